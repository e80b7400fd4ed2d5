"""Right-hand sides f and coarse loads F = M_H f_H of the PG-LOD problem (paper 000, eq. (3.7)).

F_i = (M_H f_H)_i with f_H the **nodal interpolant** of f in the coarse Q1 space (all nodes,
boundary included); F vanishes at Dirichlet nodes. For ``rhs="one"`` this is exactly (f, λ_i).
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from lod_fenicsx.discretization import Discretization

RHS = {
    "one": lambda x, y: np.ones_like(x),  # paper 000, experiment 1
    "sine": lambda x, y: np.sin(np.pi * x) * np.sin(np.pi * y),
    "x": lambda x, y: x.copy(),
    "x1_right_half": lambda x, y: np.where(x >= 0.5, x, 0.0),  # experiment 2
    "cos2pi_x1": lambda x, y: np.cos(2 * np.pi * x),  # experiment 3
}


def rhs_function(rhs):
    """A right-hand side f(x, y) from its name (one of ``RHS``) or a callable."""
    if callable(rhs):
        return rhs
    if rhs not in RHS:
        raise ValueError(
            f"unknown right-hand side {rhs!r}; choose one of {sorted(RHS)} or pass f(x, y)"
        )
    return RHS[rhs]


def _q1_load(space, f, layout) -> PETSc.Vec:
    """(M f_h)_i with f_h the nodal interpolant of f, zero at Dirichlet nodes."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector

    f_h = fem.Function(space)
    f_h.interpolate(lambda x: f(x[0], x[1]))
    vec = assemble_vector(fem.form(f_h * ufl.TestFunction(space) * ufl.dx))
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    boundary = layout.node_to_dof[layout.boundary_nodes]
    first, last = layout.local_range
    own = boundary[(boundary >= first) & (boundary < last)]
    vec.setValues(own.astype(PETSc.IntType), np.zeros(own.size))
    vec.assemble()
    return vec


def coarse_load(disc: Discretization, rhs="one") -> PETSc.Vec:
    """Coarse load vector F = M_H f_H on DOLFINx's coarse dofs (Dirichlet entries 0)."""
    return _q1_load(disc.coarse_space, rhs_function(rhs), disc.coarse_layout)
