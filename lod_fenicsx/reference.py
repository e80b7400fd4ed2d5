"""The fine Q1 reference solution u_h of −div(A ∇u) = f, u = 0 on ∂D (paper 000, Sec. 3.4), or
with Neumann faces and boundary data (``lod_fenicsx.boundary``).

Standard Q1 FEM on the fine mesh, loaded with the exact L² pairing (f, φ_i) against the fine hat
functions: the same ``loads.q1_load`` as the coarse load F_i = (f, λ_i) of PG-LOD, on the fine
space. Solved by CG + AMG (``linalg.DirichletSolver``, options prefix ``lod_fine_``).
"""

from __future__ import annotations

import numpy as np

from lod_fenicsx.boundary import check_data, dirichlet_values, flux_load, free_nodes, neumann_mask
from lod_fenicsx.coefficient import coefficient_function
from lod_fenicsx.discretization import Discretization, check_fine_discretization
from lod_fenicsx.linalg import DirichletSolver
from lod_fenicsx.loads import fine_load, rhs_function
from plumbing.checks import check_real


# Peak memory per fine node of ``fine_solve`` (mesh, Q1 and DG0 spaces, the matrix, BoomerAMG),
# measured on one rank: 3-D 6.6 kB (64^3 cells) to 8.2 kB (32^3), 2-D 1.2 kB (512^2).
BYTES_PER_FINE_NODE = {2: 1500, 3: 8500}


def check_fine_memory(n_fine: int, dim: int, ranks: int = 1) -> None:
    """Refuse up front a fine reference whose estimated memory exceeds 80 % of what is free
    (per rank: the ranks of one machine share it, so the estimate is for all of them)."""
    from lod_fenicsx.corrector import _available_memory

    need = BYTES_PER_FINE_NODE[dim] * (n_fine + 1) ** dim
    available = _available_memory()
    if available is not None and need > 0.8 * available:
        raise ValueError(
            f"the fine reference on {n_fine}^{dim} cells needs about {need / 2**30:.1f} GiB "
            f"(all {ranks} rank(s) together), {available / 2**30:.1f} GiB are available; "
            "skip it with --no-fine, or run on a machine with more memory"
        )


def fine_solve(
    disc: Discretization,
    coefficient: np.ndarray,
    rhs="one",
    rtol: float = 1e-10,
    neumann=None,
    dirichlet=None,
    flux=None,
):
    """Fine Q1 reference solution of -div(A ∇u) = f, u = 0 on ∂D: CG + AMG.

    The load is (f, φ_i) for the fine hat functions φ_i (``loads.fine_load``). With ``neumann``
    faces (``lod_fenicsx.boundary``), A∇u·ν = ψ there (``flux``, default 0) and u = g on the
    other faces (``dirichlet``, default 0), g taken at the fine nodes; the load is then
    (f, φ_i) + (ψ, φ_i)_{Γ_N} − a(g_h, φ_i) at the free nodes (lifting by g_h, the fine nodal
    interpolant of g on ∂D extended by 0). Returns the
    DOLFINx function and its nodal values as an ``[iy, ix]`` (3-D: ``[iz, iy, ix]``) array of
    shape ``(N n + 1,) * d`` gathered on all ranks.

    Parameters
    ----------
    disc : Discretization
        Built with ``fine=True``; the solve runs on its fine mesh and communicator.
    coefficient : numpy.ndarray
        A on the fine cells, ``[iy, ix]`` (``[iz, iy, ix]``) of shape ``(N n,) * d``, the same
        on every rank.
    rhs : str or callable
        f: a name in ``RHS`` (default ``"one"``) or a callable f(x, y[, z]).
    rtol : float
        Relative tolerance of CG (options prefix ``lod_fine_``).
    neumann : sequence of str, optional
        The Neumann faces (``"x0"``, ``"y1"``, ...); default: all faces Dirichlet.
    dirichlet : callable or dict, optional
        g on the Dirichlet faces, as for ``pglod_solve``.
    flux : dict, optional
        ψ on the Neumann faces, as for ``pglod_solve``.

    Returns
    -------
    u_h : dolfinx.fem.Function
        The solution on ``disc.fine_space``.
    u : numpy.ndarray
        Its values on all fine nodes, shape ``(N n + 1,) * d``, on every rank.

    Raises
    ------
    RuntimeError
        If CG does not converge.

    Examples
    --------
    >>> import numpy as np
    >>> from mpi4py import MPI
    >>> disc = Discretization(MPI.COMM_SELF, 4, 2, fine=True)
    >>> u_h, u = fine_solve(disc, np.ones((8, 8)))
    >>> u.shape, round(float(u[4, 4]), 4)
    ((9, 9), 0.0746)
    """
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector
    from petsc4py import PETSc

    check_fine_discretization(disc)
    rhs_function(rhs)  # a name or a callable, before any work
    rtol = check_real("rtol", rtol, positive=True, most=1.0)
    space = disc.fine_space
    a_func = coefficient_function(disc, coefficient)
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    dim, mask = disc.dim, neumann_mask(neumann, disc.dim)
    check_data(mask, dirichlet, flux)

    def on_dirichlet_face(x):
        index = np.rint(x[:dim][::-1] * disc.n_fine).astype(np.int64)  # C order of the axes
        return ~free_nodes(index, disc.n_fine, mask)

    boundary = fem.locate_dofs_geometrical(space, on_dirichlet_face)
    solver = DirichletSolver(
        a_func * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
        space,
        boundary,
        "lod_fine_",
        rtol=rtol,
    )
    vec = fine_load(disc, rhs, neumann=mask)
    load = vec.array.copy()  # owned entries; 0 at the Dirichlet dofs
    vec.destroy()
    if dirichlet is not None or flux is not None:
        layout = disc.fine_layout
        g = dirichlet_values(disc.n_fine, mask, dirichlet)
        g_h = fem.Function(space)
        g_h.x.array[: load.size] = layout.from_structured(g)
        g_h.x.scatter_forward()
        lifting = assemble_vector(fem.form(a_func * ufl.inner(ufl.grad(g_h), ufl.grad(v)) * ufl.dx))
        lifting.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        load += layout.from_structured(flux_load(disc.n_fine, mask, flux)) - lifting.array
        lifting.destroy()
        fixed = ~free_nodes(np.unravel_index(layout.local_nodes, layout.shape), disc.n_fine, mask)
        load[fixed] = layout.from_structured(g)[fixed]  # identity rows: u = g there
    owned = solver.solve_array(load)
    if dirichlet is not None or flux is not None:
        owned[fixed] = load[fixed]  # CG meets the identity rows only to its tolerance
    solver.destroy()
    u_h = fem.Function(space, name="u_fine")
    u_h.x.array[: owned.size] = owned
    u_h.x.scatter_forward()
    return u_h, disc.fine_layout.to_structured(disc.comm, owned)


def fine_reaction(
    disc: Discretization,
    coefficient: np.ndarray,
    u_fine: np.ndarray,
    rhs="one",
    neumann=None,
    flux=None,
) -> np.ndarray:
    """a(u_h, φ_i) − (f, φ_i) − (ψ, φ_i) on every fine node: at the Dirichlet nodes the flux
    ∫ A∇u_h·ν φ_i through ∂D, the fine twin of ``PGLODResult.reaction``.

    ``u_fine`` is the structured nodal array of ``fine_solve``; returns the same shape, on all
    ranks (the structured stiffness is applied on every rank: meant for modest grids).
    """
    from lod_fenicsx.q1 import q1_matrix, reference_element_matrices, stiffness_scale

    mask = neumann_mask(neumann, disc.dim)
    k_ref, _ = reference_element_matrices(disc.dim)
    stiffness = q1_matrix(
        np.asarray(coefficient, dtype=float), stiffness_scale(disc.n_fine, disc.dim) * k_ref
    )
    vec = fine_load(disc, rhs, neumann=mask, keep_dirichlet=True)
    load = disc.fine_layout.to_structured(disc.comm, vec.array)
    vec.destroy()
    residual = (
        stiffness @ u_fine.ravel() - load.ravel() - flux_load(disc.n_fine, mask, flux).ravel()
    )
    return residual.reshape(u_fine.shape)
