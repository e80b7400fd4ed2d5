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

from lod_fenicsx.boundary import free_nodes, neumann_mask
from lod_fenicsx.discretization import Discretization, DofLayout, check_fine_discretization
from plumbing.checks import (
    ArgumentTypeError,
    check_choice,
    check_flag,
    check_instance,
    check_size,
)

#: Named right-hand sides f (``rhs=`` of ``pglod_solve``, ``--rhs``): name -> f(x, y[, z]).
RHS = {  # f(x, y) in 2-D, f(x, y, z) in 3-D
    "one": lambda *x: np.ones_like(x[0]),  # paper 000, experiment 1
    "sine": lambda *x: np.prod([np.sin(np.pi * c) for c in x], axis=0),
    "x": lambda *x: x[0].copy(),
    "x1_right_half": lambda *x: np.where(x[0] >= 0.5, x[0], 0.0),  # experiment 2
    "cos2pi_x1": lambda *x: np.cos(2 * np.pi * x[0]),  # experiment 3
}

LOADS = ("l2", "interpolant")
# Per direction. 8 integrate cos 2πx₁ against λ_i on cells of side 1/4 to round-off (1e-16
# relative); 6 leave 5e-13 there.
GAUSS_POINTS = 8
_CHUNK = 1 << 14  # cells per block: bounds the memory of the values at the quadrature points


def rhs_function(rhs):
    """A right-hand side f(x, y[, z]) from its name (one of ``RHS``) or a callable."""
    if callable(rhs):
        return rhs
    if not isinstance(rhs, str):
        raise ArgumentTypeError(
            f"rhs must be a name in {sorted(RHS)} or a callable f(x, y[, z]), got {rhs!r}"
        )
    if rhs not in RHS:
        raise ValueError(
            f"rhs: unknown right-hand side {rhs!r}; choose one of {sorted(RHS)} or pass f(x, y)"
        )
    return RHS[rhs]


def _along_axes(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply ``matrix`` (j, p) along every axis but the first of ``values`` (cell, p, ..., p)."""
    for axis in range(values.ndim - 1, 0, -1):  # x (the last axis) first
        values = np.moveaxis(np.tensordot(values, matrix, axes=([axis], [1])), -1, axis)
    return values


def _cell_moments(f, lo, hi, load, points):
    """∫_K g Π_a b_{j_a}(x_a) over each axis-parallel cell K = [lo, hi], ``(cells, 2, ..., 2)``.

    g is f (``load="l2"``) or its multilinear interpolant from the cell's corners
    (``"interpolant"``); b_0 = 1 − ξ, b_1 = ξ are the 1-D hat pieces in local coordinates, and
    the axes of the result are in C order (``[cell, jy, jx]``, in 3-D ``[cell, jz, jy, jx]``),
    j = 0 at lo and 1 at hi. ``lo``, ``hi`` are ``(cells, d)`` arrays of (x, y[, z]); ``points``
    Gauss points per direction.
    """
    dim = lo.shape[1]
    xi, w = np.polynomial.legendre.leggauss(points)
    xi, w = (xi + 1) / 2, w / 2  # on [0, 1]
    basis = np.stack([1 - xi, xi])  # [j, point]
    size = hi - lo

    def grid(nodes):  # coordinates (x, y[, z]) on [cell, ..., pz, py, px] of 1-D local nodes
        shape = (-1,) + (1,) * dim
        coords = []
        for axis in range(dim):
            local = np.reshape(nodes, (1,) * (dim - axis) + (-1,) + (1,) * axis)
            coords.append(lo[:, axis].reshape(shape) + size[:, axis].reshape(shape) * local)
        return np.broadcast_arrays(*coords)

    if load == "l2":
        x = grid(xi)
        values = np.broadcast_to(np.asarray(f(*x), dtype=np.float64), x[0].shape)
    else:  # corner values, then the multilinear interpolant at the Gauss points
        x = grid(np.array([0.0, 1.0]))
        corners = np.broadcast_to(np.asarray(f(*x), dtype=np.float64), x[0].shape)
        values = _along_axes(corners, basis.T)
    return _along_axes(values, basis * w) * size.prod(axis=1).reshape((-1,) + (1,) * dim)


def q1_load(
    space,
    layout: DofLayout,
    rhs="one",
    load: str = "l2",
    points: int = GAUSS_POINTS,
    neumann=None,
    keep_dirichlet: bool = False,
) -> PETSc.Vec:
    """(f, φ_i) for the Q1 hat functions φ_i of ``space``, 0 at the Dirichlet nodes.

    Paper 000, eq. (3.7) with f_h = 𝔐f: the load F of S_A U = F on the coarse space, and the
    Galerkin load of the fine reference on the fine space. Each rank integrates its owned cells
    (axis-parallel rectangles or boxes) with a tensor Gauss rule of ``points`` per direction,
    and the contributions to ghost dofs are added to their owners, as DOLFINx's own assembly
    does.

    Parameters
    ----------
    space : DOLFINx Q1 ("Lagrange", 1) space on the uniform mesh of ``layout.n`` cells per side.
    layout : the space's ``DofLayout`` (for the number of cells per side).
    rhs : a name in ``RHS`` or a vectorised callable f(x, y) (f(x, y, z) in 3-D).
    load : ``"l2"`` the exact pairing (f, φ_i); ``"interpolant"`` (f_I, φ_i) with f_I the
        nodal interpolant of f on this mesh.
    points : Gauss points per direction and cell.
    neumann : faces of D that are not Dirichlet (``lod_fenicsx.boundary``); default all
        Dirichlet. F is zeroed at the Dirichlet nodes only, and nowhere with
        ``keep_dirichlet`` (for the boundary reactions, ``pglod.PGLODResult.reaction``).

    Returns
    -------
    PETSc.Vec
        Ghosted vector on DOLFINx's dof layout of ``space``, owned and ghost entries set.
    """
    check_choice("load", load, LOADS)
    from dolfinx.la import create_petsc_vector

    f = rhs_function(rhs)
    points = check_size("points", points)
    keep_dirichlet = check_flag("keep_dirichlet", keep_dirichlet)
    imap = space.dofmap.index_map
    # DOLFINx's dof coordinates carry round-off (1/2 may come out as 1/2 − 1 ulp, where the
    # f of experiment 2 jumps); the nodes are the multiples of 1/n, so take those exactly.
    dim = layout.dim
    index = np.rint(space.tabulate_dof_coordinates()[:, :dim] * layout.n)
    coords = index / layout.n
    num_owned = space.mesh.topology.index_map(space.mesh.topology.dim).size_local
    cell_dofs = space.dofmap.list[:num_owned]
    local = np.zeros(imap.size_local + imap.num_ghosts)
    for start in range(0, num_owned, _CHUNK):
        dofs = cell_dofs[start : start + _CHUNK]
        corner = coords[dofs]  # [cell, dof, xy]
        lo, hi = corner.min(axis=1), corner.max(axis=1)
        moments = _cell_moments(f, lo, hi, load, points)
        # Which corner of its cell each dof sits at: 0 at lo, 1 at hi in each direction, and
        # that corner's position in the C-ordered moments (x fastest).
        j = (2 * corner > (lo + hi)[:, None, :]).astype(np.intp)
        position = j @ (2 ** np.arange(dim))
        contribution = np.take_along_axis(moments.reshape(-1, 2**dim), position, axis=1)
        local += np.bincount(dofs.ravel(), contribution.ravel(), minlength=local.size)
    # Zero the Dirichlet dofs on every rank before the reverse scatter, so their sums are zero.
    if not keep_dirichlet:
        free = free_nodes(index.T.astype(np.int64)[::-1], layout.n, neumann_mask(neumann, dim))
        local[~free] = 0.0
    vec = create_petsc_vector(imap, 1)
    with vec.localForm() as form:
        form.array[:] = local
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    vec.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    return vec


def coarse_load(
    disc: Discretization, rhs="one", load: str = "l2", neumann=None, keep_dirichlet=False
) -> PETSc.Vec:
    """Coarse load F_i = (f, λ_i) on DOLFINx's coarse dofs (Dirichlet entries 0), see
    ``q1_load``; paper 000, eq. (3.7) and the vector F of Sec. 3.4.

    Parameters
    ----------
    disc : Discretization
        Its coarse space carries the load.
    rhs : str or callable
        f: a name in ``RHS`` (default ``"one"``) or a callable f(x, y[, z]) of coordinate
        arrays.
    load : str
        ``"l2"`` (default): the L² pairing by a tensor Gauss rule; ``"interpolant"``: f replaced
        by its nodal Q1 interpolant (older numbers).
    neumann : sequence of str, optional
        The Neumann faces (their nodes carry unknowns); default: all faces Dirichlet.
    keep_dirichlet : bool
        Keep the entries at the Dirichlet nodes instead of setting them to 0.

    Returns
    -------
    petsc4py.PETSc.Vec
        F on ``disc.coarse_space``'s dofs (ghosts updated); the caller destroys it.

    Raises
    ------
    ValueError
        If ``rhs`` is an unknown name or ``load`` is not one of ``LOADS``.

    Examples
    --------
    f = 1 on a 4 x 4 grid: each interior hat λ_i has integral H² = 1/16.

    >>> from mpi4py import MPI
    >>> disc = Discretization(MPI.COMM_SELF, 4, 2)
    >>> F = coarse_load(disc)
    >>> round(F.sum(), 12), F.getSize()
    (0.5625, 25)
    >>> _ = F.destroy()
    """
    check_instance("disc", disc, Discretization)
    return q1_load(
        disc.coarse_space,
        disc.coarse_layout,
        rhs,
        load,
        neumann=neumann,
        keep_dirichlet=keep_dirichlet,
    )


def fine_load(
    disc: Discretization, rhs="one", load: str = "l2", neumann=None, keep_dirichlet=False
) -> PETSc.Vec:
    """Fine load (f, φ_i) of the fine Q1 reference on DOLFINx's fine dofs (Dirichlet entries
    0), see ``q1_load``.

    Parameters
    ----------
    disc : Discretization
        Built with ``fine=True``; its fine space carries the load.
    rhs : str or callable
        f: a name in ``RHS`` (default ``"one"``) or a callable f(x, y[, z]).
    load : str
        ``"l2"`` (default) or ``"interpolant"``, as for ``coarse_load``.
    neumann : sequence of str, optional
        The Neumann faces; default: all faces Dirichlet.
    keep_dirichlet : bool
        Keep the entries at the Dirichlet nodes instead of setting them to 0.

    Returns
    -------
    petsc4py.PETSc.Vec
        (f, φ_i) on ``disc.fine_space``'s dofs; the caller destroys it.

    Raises
    ------
    ValueError
        If ``disc`` has no fine mesh, ``rhs`` is an unknown name or ``load`` is not one of
        ``LOADS``.
    """
    check_fine_discretization(disc)
    return q1_load(
        disc.fine_space, disc.fine_layout, rhs, load, neumann=neumann, keep_dirichlet=keep_dirichlet
    )
