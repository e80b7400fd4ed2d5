"""Right-hand sides f and the load vectors F_i = (f, λ_i) of PG-LOD and of the fine reference.

Paper 000 solves S_A U = F with F_i = ⟨𝔐f, λ_i⟩ (Sec. 3.4; eq. (3.7) with f_h = 𝔐f), 𝔐 the
L²-projection onto the coarse Q1 space (V_h in the paper, whose h is the coarse scale; V_H
here). λ_i lies in that space, so ⟨𝔐f, λ_i⟩ = (f, λ_i): the load is the exact L² pairing of f
with the coarse hat functions. The fine Q1 reference (``lod_fenicsx.reference``) is the Galerkin
FEM on the fine mesh with the same pairing against the fine hat functions φ_i. One function,
``q1_load``, computes both: a tensor Gauss rule on every cell, exact when f restricted to each
cell is a polynomial of degree ≤ 2 ``GAUSS_POINTS`` − 2 in each variable. That covers the
experiments' f = 1 and f = x₁ χ{x₁ ≥ 1/2}, whose jump lies on a cell edge when the cells per side
are even (no Gauss point lies on an edge), and f = cos 2πx₁ is integrated to round-off already on
cells of side 1/4.

``load="interpolant"`` replaces f by its nodal Q1 interpolant on the same mesh, (f_I, λ_i) =
(M f_I)_i: the load used before, equal to the L² pairing for f = 1, kept for comparisons with
numbers computed with it. (The old code took the nodal values at DOLFINx's dof coordinates, where
x₁ = 1/2 can come out 1 ulp below 1/2, so at some nodes of the jump of experiment 2 it used f = 0;
here the nodes are exact multiples of the mesh size.) F vanishes at the Dirichlet nodes.
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from lod_fenicsx.discretization import Discretization, DofLayout

RHS = {
    "one": lambda x, y: np.ones_like(x),  # paper 000, experiment 1
    "sine": lambda x, y: np.sin(np.pi * x) * np.sin(np.pi * y),
    "x": lambda x, y: x.copy(),
    "x1_right_half": lambda x, y: np.where(x >= 0.5, x, 0.0),  # experiment 2
    "cos2pi_x1": lambda x, y: np.cos(2 * np.pi * x),  # experiment 3
}

LOADS = ("l2", "interpolant")
# Per direction. 8 integrate cos 2πx₁ against λ_i on cells of side 1/4 to round-off (1e-16
# relative); 6 leave 5e-13 there.
GAUSS_POINTS = 8
_CHUNK = 1 << 14  # cells per block: bounds the memory of the values at the quadrature points


def rhs_function(rhs):
    """A right-hand side f(x, y) from its name (one of ``RHS``) or a callable."""
    if callable(rhs):
        return rhs
    if rhs not in RHS:
        raise ValueError(
            f"unknown right-hand side {rhs!r}; choose one of {sorted(RHS)} or pass f(x, y)"
        )
    return RHS[rhs]


def _cell_moments(f, lo, hi, load, points):
    """∫_K g b_{jy}(y) b_{jx}(x) over each axis-parallel cell K = [lo, hi], ``(cells, 2, 2)``.

    g is f (``load="l2"``) or its bilinear interpolant from the cell's corners
    (``"interpolant"``); b_0 = 1 − ξ, b_1 = ξ are the 1-D hat pieces in local coordinates, so
    entry ``[jy, jx]`` belongs to the corner (lo or hi in y, lo or hi in x). ``lo``, ``hi`` are
    ``(cells, 2)`` arrays of (x, y); ``points`` Gauss points per direction.
    """
    xi, w = np.polynomial.legendre.leggauss(points)
    xi, w = (xi + 1) / 2, w / 2  # on [0, 1]
    basis = np.stack([1 - xi, xi])  # [j, point]
    size = hi - lo
    if load == "l2":
        x = lo[:, 0, None, None] + size[:, 0, None, None] * xi[None, None, :]
        y = lo[:, 1, None, None] + size[:, 1, None, None] * xi[None, :, None]
        x, y = np.broadcast_arrays(x, y)  # [cell, y point, x point]
        values = np.broadcast_to(np.asarray(f(x, y), dtype=np.float64), x.shape)
    else:
        # Corner values [cell, jy, jx], then the bilinear interpolant at the Gauss points.
        cx = np.stack([lo[:, 0], hi[:, 0]], axis=1)[:, None, :]
        cy = np.stack([lo[:, 1], hi[:, 1]], axis=1)[:, :, None]
        cx, cy = np.broadcast_arrays(cx, cy)
        corners = np.broadcast_to(np.asarray(f(cx, cy), dtype=np.float64), cx.shape)
        values = basis.T @ corners @ basis  # [cell, y point, x point]
    weighted = basis * w  # [j, point]
    return (weighted @ values @ weighted.T) * size.prod(axis=1)[:, None, None]


def q1_load(
    space, layout: DofLayout, rhs="one", load: str = "l2", points: int = GAUSS_POINTS
) -> PETSc.Vec:
    """(f, φ_i) for the Q1 hat functions φ_i of ``space``, 0 at the Dirichlet nodes.

    Paper 000, eq. (3.7) with f_h = 𝔐f: the load F of S_A U = F on the coarse space, and the
    Galerkin load of the fine reference on the fine space. Each rank integrates its owned cells
    (axis-parallel rectangles) with a ``points`` x ``points`` Gauss rule and the contributions
    to ghost dofs are added to their owners, as DOLFINx's own assembly does.

    Parameters
    ----------
    space : DOLFINx Q1 ("Lagrange", 1) space on the uniform ``layout.n`` x ``layout.n`` mesh.
    layout : the space's ``DofLayout`` (for the number of cells per side).
    rhs : a name in ``RHS`` or a vectorised callable f(x, y).
    load : ``"l2"`` the exact pairing (f, φ_i); ``"interpolant"`` (f_I, φ_i) with f_I the
        nodal interpolant of f on this mesh.
    points : Gauss points per direction and cell.

    Returns
    -------
    PETSc.Vec
        Ghosted vector on DOLFINx's dof layout of ``space``, owned and ghost entries set.
    """
    if load not in LOADS:
        raise ValueError(f"load must be one of {LOADS}, got {load!r}")
    from dolfinx.la import create_petsc_vector

    f = rhs_function(rhs)
    imap = space.dofmap.index_map
    # DOLFINx's dof coordinates carry round-off (1/2 may come out as 1/2 − 1 ulp, where the
    # f of experiment 2 jumps); the nodes are the multiples of 1/n, so take those exactly.
    index = np.rint(space.tabulate_dof_coordinates()[:, :2] * layout.n)
    coords = index / layout.n
    num_owned = space.mesh.topology.index_map(space.mesh.topology.dim).size_local
    cell_dofs = space.dofmap.list[:num_owned]
    local = np.zeros(imap.size_local + imap.num_ghosts)
    for start in range(0, num_owned, _CHUNK):
        dofs = cell_dofs[start : start + _CHUNK]
        corner = coords[dofs]  # [cell, dof, xy]
        lo, hi = corner.min(axis=1), corner.max(axis=1)
        moments = _cell_moments(f, lo, hi, load, points)
        # Which corner of its cell each dof sits at: 0 at lo, 1 at hi in each direction.
        jx, jy = (2 * corner > (lo + hi)[:, None, :]).astype(np.intp).transpose(2, 0, 1)
        contribution = np.take_along_axis(moments.reshape(-1, 4), 2 * jy + jx, axis=1)
        local += np.bincount(dofs.ravel(), contribution.ravel(), minlength=local.size)
    # Zero the Dirichlet dofs on every rank before the reverse scatter, so their sums are zero.
    on_boundary = ((index == 0) | (index == layout.n)).any(axis=1)
    local[on_boundary] = 0.0
    vec = create_petsc_vector(imap, 1)
    with vec.localForm() as form:
        form.array[:] = local
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    return vec


def coarse_load(disc: Discretization, rhs="one", load: str = "l2") -> PETSc.Vec:
    """Coarse load F_i = (f, λ_i) on DOLFINx's coarse dofs (Dirichlet entries 0), see
    ``q1_load``; paper 000, eq. (3.7) and the vector F of Sec. 3.4."""
    return q1_load(disc.coarse_space, disc.coarse_layout, rhs, load)


def fine_load(disc: Discretization, rhs="one", load: str = "l2") -> PETSc.Vec:
    """Fine load (f, φ_i) of the fine Q1 reference on DOLFINx's fine dofs (Dirichlet entries
    0), see ``q1_load``."""
    if disc.fine_space is None:
        raise ValueError("the discretization has no fine mesh: build it with fine=True")
    return q1_load(disc.fine_space, disc.fine_layout, rhs, load)
