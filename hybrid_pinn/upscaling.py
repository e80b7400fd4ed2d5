"""REV upscaling in 2-D (Sec. 4.1, Alg. 2, Prop. 4.4) with DOLFINx, MPI-parallel.

1. Cell problems (35): -div(K grad w_i) = q in (0,1)^2, w_i = x_i on the boundary, i = 1, 2.
2. Per rectangular block V_j, eq. (36): K~^j T^j = F^j with the averaged gradients
   T^j = [<grad w_1>, <grad w_2>] and fluxes F^j = [<K grad w_1>, <K grad w_2>];
   V = Omega gives (43).
3. Coarse problem (48): -div(K~ grad y) = q, y = 0 on the boundary.

Both cell problems share one stiffness matrix, factorised/preconditioned once by a KSP with the
options prefix ``rev_`` (CG + BoomerAMG by default; e.g. ``-rev_pc_type lu`` switches).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import assemble_vector
from mpi4py import MPI

from lod_fenicsx.linalg import DirichletSolver
from plumbing.checks import (
    ArgumentTypeError,
    check_callable,
    check_instance,
    check_real,
    check_real_array,
    check_size,
    check_str,
)

__all__ = ["CellSolutions", "solve_cell_problems", "upscaled_tensor", "solve_coarse"]

Coefficient = Callable[[ufl.SpatialCoordinate], ufl.core.expr.Expr]


@dataclass
class CellSolutions:
    """The solutions w_1, w_2 of (35) with the coefficient and source they solve for."""

    domain: mesh.Mesh
    w: tuple[fem.Function, fem.Function]
    coefficient: ufl.core.expr.Expr
    source: ufl.core.expr.Expr
    quadrature_degree: int


def _check_domain(domain) -> None:
    """A 2-D DOLFINx mesh (the REV or the coarse domain)."""
    check_instance("domain", domain, mesh.Mesh, "dolfinx.mesh.Mesh")
    if domain.topology.dim != 2:
        raise ValueError(f"domain must be a 2-D mesh, got a {domain.topology.dim}-D one")


def _boundary_dofs(V: fem.FunctionSpace) -> np.ndarray:
    domain = V.mesh
    tdim = domain.topology.dim
    domain.topology.create_connectivity(tdim - 1, tdim)
    facets = mesh.exterior_facet_indices(domain.topology)
    return fem.locate_dofs_topological(V, tdim - 1, facets)


def _solve_dirichlet(
    V: fem.FunctionSpace,
    a: ufl.Form,
    L: ufl.Form,
    boundary_values: list[Callable],
    prefix: str,
) -> list[fem.Function]:
    """Solve a(w, v) = L(v) once per boundary function g (w = g on the boundary),
    one matrix and KSP."""
    solver = DirichletSolver(a, V, _boundary_dofs(V), prefix, rtol=1e-12, atol=1e-14, max_it=2000)
    solutions = [solver.solve(L, g) for g in boundary_values]
    solver.destroy()
    return solutions


def solve_cell_problems(
    domain: mesh.Mesh,
    coefficient: Coefficient,
    source: Coefficient,
    degree: int = 1,
    quadrature_degree: int = 6,
    prefix: str = "rev_",
) -> CellSolutions:
    """w_1, w_2 of the cell problems (35) on ``domain`` (Lagrange of ``degree``).

    ``coefficient`` and ``source`` map the UFL SpatialCoordinate to scalar UFL expressions;
    the oscillating K is integrated with ``quadrature_degree``.

    Parameters
    ----------
    domain : dolfinx.mesh.Mesh
        The 2-D REV mesh, e.g. of the unit square.
    coefficient : callable
        x -> K(x), a scalar UFL expression.
    source : callable
        x -> q(x), a scalar UFL expression.
    degree : int
        The Lagrange degree.
    quadrature_degree : int
        Quadrature degree of K and q.
    prefix : str
        PETSc options prefix of the CG + AMG solve.

    Returns
    -------
    CellSolutions
        w_1, w_2 (w_i = x_i on the boundary) with K and q.

    Examples
    --------
    >>> from dolfinx import mesh
    >>> from mpi4py import MPI
    >>> domain = mesh.create_unit_square(MPI.COMM_SELF, 4, 4, mesh.CellType.quadrilateral)
    >>> cells = solve_cell_problems(domain, lambda x: 2.0 + 0 * x[0], lambda x: 0 * x[0])
    >>> len(cells.w)
    2
    """
    _check_domain(domain)
    check_callable("coefficient", coefficient)
    check_callable("source", source)
    degree = check_size("degree", degree)
    quadrature_degree = check_size("quadrature_degree", quadrature_degree, 0)
    check_str("prefix", prefix)
    V = fem.functionspace(domain, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(domain)
    # The zero constant keeps an integration domain in the load form when q simplifies to 0.
    K, q = coefficient(x), source(x) + fem.Constant(domain, 0.0)
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.dx(metadata={"quadrature_degree": quadrature_degree})
    w1, w2 = _solve_dirichlet(
        V,
        K * ufl.inner(ufl.grad(w), ufl.grad(v)) * dx,
        q * v * dx,
        [lambda p: p[0], lambda p: p[1]],
        prefix,
    )
    return CellSolutions(domain, (w1, w2), K, q, quadrature_degree)


def _block_integrals(
    cells: CellSolutions, blocks: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrals over each block of grad w_i and K grad w_i, and the block areas
    (summed over ranks)."""
    domain = cells.domain
    dx = ufl.dx(metadata={"quadrature_degree": cells.quadrature_degree})
    # Per-cell integrals: assembling against DG0 test functions gives one number per cell.
    W = fem.functionspace(domain, ("DG", 0, (2, 2)))
    D = fem.functionspace(domain, ("DG", 0))
    tau, s = ufl.TestFunction(W), ufl.TestFunction(D)
    grads = ufl.as_matrix(
        [[cells.w[j].dx(i) for j in range(2)] for i in range(2)]
    )  # column j = grad w_j
    n_local = domain.topology.index_map(domain.topology.dim).size_local
    per_cell = []
    for integrand in (grads, cells.coefficient * grads):
        vec = assemble_vector(fem.form(ufl.inner(integrand, tau) * dx))
        per_cell.append(vec.array[: 4 * n_local].reshape(n_local, 2, 2).copy())
        vec.destroy()
    vec = assemble_vector(fem.form(s * dx))
    area = vec.array[:n_local].copy()
    vec.destroy()

    midpoints = mesh.compute_midpoints(
        domain, domain.topology.dim, np.arange(n_local, dtype=np.int32)
    )
    nx, ny = blocks
    ix = np.minimum((midpoints[:, 0] * nx).astype(int), nx - 1)
    iy = np.minimum((midpoints[:, 1] * ny).astype(int), ny - 1)
    block = iy * nx + ix
    sums = [np.zeros((ny * nx, 2, 2)), np.zeros((ny * nx, 2, 2)), np.zeros(ny * nx)]
    for total, local in zip(sums, (*per_cell, area)):
        np.add.at(total, block, local)
    comm = domain.comm
    return tuple(
        comm.allreduce(total, op=MPI.SUM).reshape((ny, nx) + total.shape[1:]) for total in sums
    )


def upscaled_tensor(
    cells: CellSolutions, blocks: tuple[int, int] = (1, 1), max_condition: float = 1e8
) -> np.ndarray:
    """Upscaled tensors K~^j of eq. (36) on an nx x ny partition into equal rectangles.

    Returns an array of shape (ny, nx, 2, 2); ``blocks=(1, 1)`` is eq. (43). Raises ValueError
    when the averaged-gradient matrix T^j of a block is singular or worse conditioned than
    ``max_condition`` (the block is then too small or too homogeneous, see the remark after (36)).

    Parameters
    ----------
    cells : CellSolutions
        From ``solve_cell_problems``.
    blocks : (int, int)
        (nx, ny), blocks along x and y; each must contain cell midpoints.
    max_condition : float
        Largest accepted condition number of a block's averaged-gradient matrix T^j.

    Returns
    -------
    numpy.ndarray
        K~ of each block, shape ``(ny, nx, 2, 2)``, indexed ``[iy, ix]`` like the fields; the
        same on every rank.

    Raises
    ------
    ValueError
        If ``blocks`` is not two positive integers, a block holds no cell, or T^j is singular
        or worse conditioned than ``max_condition``.

    Examples
    --------
    A constant K = 2 upscales to 2 I:

    >>> import numpy as np
    >>> from dolfinx import mesh
    >>> from mpi4py import MPI
    >>> domain = mesh.create_unit_square(MPI.COMM_SELF, 4, 4, mesh.CellType.quadrilateral)
    >>> cells = solve_cell_problems(domain, lambda x: 2.0 + 0 * x[0], lambda x: 0 * x[0])
    >>> K = upscaled_tensor(cells)
    >>> K.shape, bool(np.allclose(K[0, 0], 2 * np.eye(2)))
    ((1, 1, 2, 2), True)
    """
    check_instance("cells", cells, CellSolutions, "CellSolutions (from solve_cell_problems)")
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__len__") or len(blocks) != 2:
        raise ArgumentTypeError(f"blocks must be two positive integers (nx, ny), got {blocks!r}")
    nx, ny = (check_size("blocks", b) for b in blocks)
    max_condition = check_real("max_condition", max_condition, least=1.0)
    gradients, fluxes, areas = _block_integrals(cells, (nx, ny))
    if np.any(areas <= 0):
        empty = np.argwhere(areas <= 0)[0]
        raise ValueError(
            f"block (row {empty[0]}, column {empty[1]}) contains no cell midpoint; use fewer blocks"
        )
    tensors = np.empty((ny, nx, 2, 2))
    for j, i in np.ndindex(ny, nx):
        T = gradients[j, i] / areas[j, i]
        condition = np.linalg.cond(T)
        if not np.isfinite(condition) or condition > max_condition:
            raise ValueError(
                f"block V at row {j}, column {i} = [{i / nx:g}, {(i + 1) / nx:g}] x "
                f"[{j / ny:g}, {(j + 1) / ny:g}]: "
                "the averaged-gradient matrix of eq. (36) is singular or ill-conditioned "
                f"(cond = {condition:.3g}); "
                "choose larger or more heterogeneous blocks"
            )
        tensors[j, i] = np.linalg.solve(T.T, (fluxes[j, i] / areas[j, i]).T).T  # K~ = F T^{-1}
    return tensors


def solve_coarse(
    domain: mesh.Mesh,
    tensor: np.ndarray,
    source: Coefficient,
    degree: int = 1,
    prefix: str = "rev_coarse_",
) -> fem.Function:
    """y of the coarse problem (48): -div(K~ grad y) = q, y = 0, with one constant tensor K~.

    Parameters
    ----------
    domain : dolfinx.mesh.Mesh
        The 2-D coarse mesh.
    tensor : array_like
        K~, a positive definite 2 x 2 matrix (e.g. ``upscaled_tensor(...)[0, 0]``).
    source : callable
        x -> q(x), a scalar UFL expression.
    degree : int
        The Lagrange degree.
    prefix : str
        PETSc options prefix of the CG + AMG solve.

    Returns
    -------
    dolfinx.fem.Function
        y, zero on the boundary.

    Raises
    ------
    ValueError
        If ``tensor`` is not a positive definite 2 x 2 matrix.
    """
    _check_domain(domain)
    tensor = check_real_array("tensor", tensor, shape=(2, 2))
    check_callable("source", source)
    degree = check_size("degree", degree)
    check_str("prefix", prefix)
    if np.any(np.linalg.eigvalsh(0.5 * (tensor + tensor.T)) <= 0):
        raise ValueError(
            f"tensor: the coarse problem (48) needs a positive definite 2x2 tensor, got "
            f"{tensor.tolist()}"
        )
    V = fem.functionspace(domain, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(domain)
    y, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    K = ufl.as_matrix(tensor.tolist())
    (solution,) = _solve_dirichlet(
        V,
        ufl.inner(K * ufl.grad(y), ufl.grad(v)) * ufl.dx,
        (source(x) + fem.Constant(domain, 0.0)) * v * ufl.dx,
        [lambda p: 0.0 * p[0]],
        prefix,
    )
    return solution
