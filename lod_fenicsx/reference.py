"""The fine Q1 reference solution u_h of −div(A ∇u) = f, u = 0 on ∂D (paper 000, Sec. 3.4).

Standard Q1 FEM on the fine mesh, loaded with the exact L² pairing (f, φ_i) against the fine hat
functions: the same ``loads.q1_load`` as the coarse load F_i = (f, λ_i) of PG-LOD, on the fine
space. Solved by CG + AMG (``linalg.DirichletSolver``, options prefix ``lod_fine_``).
"""

from __future__ import annotations

import numpy as np

from lod_fenicsx.boundary import free_nodes, neumann_mask
from lod_fenicsx.coefficient import coefficient_function
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.linalg import DirichletSolver
from lod_fenicsx.loads import fine_load


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
):
    """Fine Q1 reference solution of -div(A ∇u) = f, u = 0 on ∂D: CG + AMG.

    The load is (f, φ_i) for the fine hat functions φ_i (``loads.fine_load``). With ``neumann``
    faces (``lod_fenicsx.boundary``), A∇u·ν = 0 there and u = 0 on the other faces. Returns the
    DOLFINx function and its nodal values as an ``[iy, ix]`` (3-D: ``[iz, iy, ix]``) array of
    shape ``(N n + 1,) * d`` gathered on all ranks.
    """
    import ufl
    from dolfinx import fem

    space = disc.fine_space
    a_func = coefficient_function(disc, coefficient)
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    dim, mask = disc.dim, neumann_mask(neumann, disc.dim)

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
    owned = solver.solve_array(vec.array)  # the load is 0 at the Dirichlet dofs: u = 0 there
    vec.destroy()
    solver.destroy()
    u_h = fem.Function(space, name="u_fine")
    u_h.x.array[: owned.size] = owned
    u_h.x.scatter_forward()
    return u_h, disc.fine_layout.to_structured(disc.comm, owned)
