"""Fine finite element reference for the 1-D problem (57): P1 on a uniform interval mesh.

The weak form uses w = u + x, i.e. int K_eps (u' + 1) v' dx = int q v dx for v in H^1_0, which
avoids quadrature of the large derivative K_eps' in f. Two solvers give the same numbers (to
round-off, tested): ``"petsc"`` (default) assembles with DOLFINx and solves with PETSc LU;
``"scipy"`` assembles the same P1 system by hand, with the Gauss rule DOLFINx uses for the
quadrature degree, and solves it as a tridiagonal system (for machines without DOLFINx).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded

from plumbing.checks import check_size

from .problem import check_eps, k_eps, source_q

__all__ = ["FineReference", "fine_reference", "REFERENCE_SOLVERS"]

REFERENCE_SOLVERS = ("petsc", "scipy")


@dataclass
class FineReference:
    """Nodal values of the fine P1 solution u_h on sorted nodes and its
    K~[u_h] = int K_eps (u_h' + 1) dx."""

    nodes: np.ndarray
    values: np.ndarray
    k_tilde: float


def fine_reference(
    eps: float, n_points: int = 1000, quadrature_degree: int = 8, solver: str = "petsc"
) -> FineReference:
    """P1 solution of (57) on n_points equidistant nodes (the paper's validation set,
    N_h^u = 1000).

    Parameters
    ----------
    eps : float
        The period of K_eps, in (0, 1].
    n_points : int
        Nodes of the uniform mesh of [0, 1], boundary included (at least 3).
    quadrature_degree : int
        Degree of the quadrature of the oscillating K_eps.
    solver : str
        ``"petsc"`` (DOLFINx + PETSc LU on ``COMM_SELF``) or ``"scipy"`` (the same system
        assembled in closed form, no DOLFINx).

    Returns
    -------
    FineReference
        ``nodes`` (increasing x) and ``values`` of u_h, both of shape ``(n_points,)``, and
        ``k_tilde`` = K~[u_h].

    Raises
    ------
    ValueError
        If ``eps``, ``n_points`` or ``solver`` is invalid.

    Examples
    --------
    >>> reference = fine_reference(1 / 16, solver="scipy")
    >>> reference.values.shape, round(reference.k_tilde, 4)  # K~[u] = 5/6 for the exact u
    ((1000,), 0.8336)
    """
    eps = check_eps(eps)
    n_points = check_size("n_points", n_points, 3)
    quadrature_degree = check_size("quadrature_degree", quadrature_degree, 0)
    if solver not in REFERENCE_SOLVERS:
        raise ValueError(
            f"solver: unknown reference solver {solver!r}; use one of {REFERENCE_SOLVERS}"
        )
    solve = _solve_petsc if solver == "petsc" else _solve_scipy
    return solve(eps, n_points, quadrature_degree)


def _solve_scipy(eps: float, n_points: int, quadrature_degree: int) -> FineReference:
    nodes = np.linspace(0.0, 1.0, n_points)
    h = 1.0 / (n_points - 1)
    # Basix's default rule on an interval: Gauss-Legendre with (degree + 2) // 2 points.
    points, weights = np.polynomial.legendre.leggauss((quadrature_degree + 2) // 2)
    x = nodes[:-1, None] + 0.5 * h * (points[None, :] + 1.0)
    k_cell = k_eps(x, eps) @ (0.5 * h * weights)  # int of K_eps over each cell
    # int q phi_i: q is linear, so the P1 mass matrix applied to its nodal values is exact.
    q = source_q(nodes)
    load = h / 6.0 * (4.0 * q)
    load[0], load[-1] = h / 6.0 * (2.0 * q[0]), h / 6.0 * (2.0 * q[-1])
    load[:-1] += h / 6.0 * q[1:]
    load[1:] += h / 6.0 * q[:-1]
    # - int K_eps phi_i': phi_i' = 1/h on the cell left of node i, -1/h on the right one.
    load[1:] -= k_cell / h
    load[:-1] += k_cell / h
    diagonal = (k_cell[:-1] + k_cell[1:]) / h**2  # int K phi_i' phi_j' on each cell: +-k / h^2
    off = -k_cell[1:-1] / h**2
    banded = np.zeros((3, n_points - 2))
    banded[0, 1:], banded[1], banded[2, :-1] = off, diagonal, off
    values = np.zeros(n_points)
    values[1:-1] = solve_banded((1, 1), banded, load[1:-1])
    k_tilde = float(k_cell @ (np.diff(values) / h + 1.0))
    return FineReference(nodes, values, k_tilde)


def _solve_petsc(eps: float, n_points: int, quadrature_degree: int) -> FineReference:
    import ufl
    from dolfinx import fem, mesh
    from dolfinx.fem.petsc import LinearProblem
    from mpi4py import MPI

    domain = mesh.create_unit_interval(MPI.COMM_SELF, n_points - 1)
    V = fem.functionspace(domain, ("Lagrange", 1))
    x = ufl.SpatialCoordinate(domain)[0]
    K, q = k_eps(x, eps), source_q(x)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.dx(metadata={"quadrature_degree": quadrature_degree})
    facets = mesh.locate_entities_boundary(
        domain, 0, lambda p: np.isclose(p[0], 0.0) | np.isclose(p[0], 1.0)
    )
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 0, facets), V)
    problem = LinearProblem(
        K * u.dx(0) * v.dx(0) * dx,
        (q * v - K * v.dx(0)) * dx,
        bcs=[bc],
        petsc_options={"ksp_type": "preonly", "pc_type": "lu"},
    )
    u_h = problem.solve()
    k_tilde = fem.assemble_scalar(fem.form(K * (u_h.dx(0) + 1.0) * dx))
    coordinates = V.tabulate_dof_coordinates()[:, 0]
    order = np.argsort(coordinates)
    return FineReference(coordinates[order], u_h.x.array[order].copy(), float(k_tilde))
