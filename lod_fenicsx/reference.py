"""The fine Q1 reference solution u_h of −div(A ∇u) = f, u = 0 on ∂D (paper 000, Sec. 3.4).

Standard Q1 FEM on the fine mesh with the same f as the coarse load (nodal interpolant), solved by
CG + AMG (``linalg.DirichletSolver``, options prefix ``lod_fine_``).
"""

from __future__ import annotations

import numpy as np

from lod_fenicsx.coefficient import coefficient_function
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.linalg import DirichletSolver
from lod_fenicsx.loads import rhs_function


def fine_solve(disc: Discretization, coefficient: np.ndarray, rhs="one", rtol: float = 1e-10):
    """Fine Q1 reference solution of -div(A ∇u) = f, u = 0 on ∂D: CG + AMG.

    Returns the DOLFINx function and its nodal values as an ``[iy, ix]`` array of shape
    ``(N n + 1, N n + 1)`` gathered on all ranks.
    """
    import ufl
    from dolfinx import fem

    f = rhs_function(rhs)
    space = disc.fine_space
    a_func = coefficient_function(disc, coefficient)
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    f_h = fem.Function(space)
    f_h.interpolate(lambda x: f(x[0], x[1]))
    boundary = fem.locate_dofs_geometrical(
        space,
        lambda x: (
            np.isclose(x[0], 0) | np.isclose(x[0], 1) | np.isclose(x[1], 0) | np.isclose(x[1], 1)
        ),
    )
    solver = DirichletSolver(
        a_func * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx,
        space,
        boundary,
        "lod_fine_",
        rtol=rtol,
    )
    u_h = solver.solve(f_h * v * ufl.dx, name="u_fine")
    solver.destroy()
    owned = u_h.x.array[: disc.fine_layout.local_nodes.size]
    return u_h, disc.fine_layout.to_structured(disc.comm, owned)
