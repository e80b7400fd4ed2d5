"""Upscaled (effective) permeability of a coefficient block by flow experiments (issue 32).

Along axis i: −div(A∇u) = 0 in D = (0,1)^d, u = 1 on the face i0, u = 0 on the face i1, no flux
(A∇u·ν = 0) through the other faces. The permeability along i is the outflow through i1,

    K_i = ∫_{i1} −A∇u·ν ds = −Σ_{z on i1} r_z,    r_z = a(u, φ_z) (the boundary reactions),

for a unit pressure drop over a unit length. The reactions are the variationally consistent
flux (Green's formula with the hat functions φ_z of the face nodes); PG-LOD takes them from the
rows of S_A of the face nodes, a((1 − Q^ℓ) u_H, λ_z) (``pglod.PGLODResult.reaction``), the fine
reference from the fine stiffness. For A constant K_i = A, for layers along i their arithmetic
mean and across i their harmonic mean (``tests/test_lod_boundary.py``).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from lod_fenicsx.boundary import AXES
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.discretization import Discretization, check_fine_discretization
from lod_fenicsx.pglod import check_sizes, pglod_solve
from lod_fenicsx.reference import fine_reaction, fine_solve
from plumbing.checks import ArgumentTypeError, check_instance, check_real, check_size


def _zero(*x):
    return np.zeros_like(x[0])


def flow_faces(axis: int, dim: int) -> tuple[tuple[str, ...], dict[str, float]]:
    """Neumann faces and Dirichlet data of the flow along ``axis`` (0 = x, 1 = y, 2 = z)."""
    if not 0 <= axis < dim:
        raise ValueError(f"axis must be 0 (x) to {dim - 1} in {dim}-D, got {axis!r}")
    name = AXES[axis]
    neumann = tuple(f"{a}{s}" for a in AXES[:dim] if a != name for s in "01")
    return neumann, {f"{name}0": 1.0}


def check_axes(axes, dim: int) -> tuple[int, ...]:
    """The flow axes: None (all d) or distinct integers 0 (x) to d − 1, as a tuple."""
    if axes is None:
        return tuple(range(dim))
    if isinstance(axes, (str, bytes)) or not hasattr(axes, "__iter__"):
        raise ArgumentTypeError(f"axes must be a sequence of integers, got {axes!r}")
    axes = tuple(check_size("axes", a, 0) for a in axes)
    if any(a >= dim for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"axes must be distinct, from 0 (x) to {dim - 1} in {dim}-D; got {axes}")
    return axes


def _outflow(reaction: np.ndarray, axis: int) -> float:
    """−Σ of the reactions over the face x_axis = 1 (arrays in C order: axis d−1−axis)."""
    dim = reaction.ndim
    return -float(np.take(reaction, -1, axis=dim - 1 - axis).sum())


def upscaled_permeability(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    axes=None,
    disc: Discretization | None = None,
    patch_solvers: dict | None = None,
) -> np.ndarray:
    """The permeabilities K_i of ``coefficient`` along ``axes`` (default all d) by PG-LOD.

    Parameters
    ----------
    comm : MPI.Comm
        Patches are split over its ranks.
    coefficient : numpy.ndarray
        Fine ``[iy, ix]`` (``[iz, iy, ix]``) array of N_H n cells per side.
    n_coarse, n_sub, ell : int
        N_H, n and ℓ.
    axes : sequence of int, optional
        Axes of the flows (0 = x, 1 = y, 2 = z); default: all d.
    disc : Discretization, optional
        A coarse discretization to reuse.
    patch_solvers : dict, optional
        Filled on first use with one ``PatchSolver`` per axis (their Neumann faces differ)
        and reused by later calls with the same dict; the caller closes them.

    Returns
    -------
    numpy.ndarray
        ``len(axes)`` permeabilities, the same on every rank.

    Examples
    --------
    A homogeneous block of permeability 2:

    >>> import numpy as np
    >>> from mpi4py import MPI
    >>> upscaled_permeability(MPI.COMM_SELF, np.full((8, 8), 2.0), 4, 2, 1).round(12)
    array([2., 2.])
    """
    check_instance("comm", comm, MPI.Comm)
    n_coarse, n_sub, ell = check_sizes(n_coarse, n_sub, ell)
    dim = np.ndim(coefficient) if np.ndim(coefficient) in (2, 3) else 2
    coefficient = validate_coefficient(coefficient, n_coarse, n_sub, dim=dim)
    axes = check_axes(axes, dim)
    check_instance("disc", disc, (Discretization, type(None)), "Discretization or None")
    check_instance("patch_solvers", patch_solvers, (dict, type(None)), "dict or None")
    disc = disc or Discretization(comm, n_coarse, n_sub, fine=False, dim=dim)
    out = []
    for axis in axes:
        neumann, dirichlet = flow_faces(axis, dim)
        solvers = {} if patch_solvers is None else patch_solvers
        key = (n_coarse, n_sub, ell, dim, axis)
        if key not in solvers:
            solvers[key] = PatchSolver(n_coarse, n_sub, ell, dim=dim, neumann=neumann)
        with pglod_solve(
            comm,
            coefficient,
            n_coarse,
            n_sub,
            ell,
            rhs=_zero,
            disc=disc,
            patch_solver=solvers[key],
            neumann=neumann,
            dirichlet=dirichlet,
        ) as result:
            out.append(_outflow(result.reaction, axis))
        if patch_solvers is None:
            solvers[key].close()
    return np.array(out)


def fine_upscaled_permeability(
    disc: Discretization, coefficient: np.ndarray, axes=None, rtol: float = 1e-10
) -> np.ndarray:
    """The permeabilities K_i along ``axes`` (default all d) by the fine Q1 reference on
    ``disc``'s fine mesh (CG + AMG to ``rtol``); the same on every rank.

    Parameters
    ----------
    disc : Discretization
        Built with ``fine=True``.
    coefficient : numpy.ndarray
        Fine ``[iy, ix]`` (``[iz, iy, ix]``) array of ``disc.n_fine`` cells per side.
    axes : sequence of int, optional
        Axes of the flows (0 = x, 1 = y, 2 = z); default: all d.
    rtol : float
        Relative tolerance of CG.

    Returns
    -------
    numpy.ndarray
        ``len(axes)`` permeabilities, the same on every rank.
    """
    check_fine_discretization(disc)
    coefficient = validate_coefficient(coefficient, disc.n_coarse, disc.n_sub, dim=disc.dim)
    axes = check_axes(axes, disc.dim)
    rtol = check_real("rtol", rtol, positive=True, most=1.0)
    out = []
    for axis in axes:
        neumann, dirichlet = flow_faces(axis, disc.dim)
        u_func, u = fine_solve(disc, coefficient, _zero, rtol, neumann=neumann, dirichlet=dirichlet)
        del u_func
        reaction = fine_reaction(disc, coefficient, u, _zero, neumann=neumann)
        out.append(_outflow(reaction, axis))
    return np.array(out)
