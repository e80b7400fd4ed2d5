"""Which faces of D = (0,1)^d are Dirichlet and which Neumann (gridlod's ``boundaryConditions``).

Faces are named ``x0 x1 y0 y1`` (and ``z0 z1`` in 3-D), ``x0`` being the face x = 0. A face
not named Neumann is homogeneous Dirichlet, so ``neumann=None`` is the all-Dirichlet problem of
paper 000. With Neumann faces the method is gridlod's (Kröpfl, Maier, Peterseim 2022, Sec. 3.3
with V_H, V_h and I_H on the Dirichlet part of ∂D only): coarse and fine nodes on Neumann faces
are unknowns, I_H keeps them (weight 1/n_z, n_z the coarse elements of D at the node), and the
correctors vanish on the Dirichlet part of ∂D and on the patch boundary inside D. At least one
face must be Dirichlet: an all-Neumann problem needs a compatibility condition on f and a
normalisation that are not offered.

Inside the package the faces are a boolean ``(d, 2)`` mask ``neumann[axis, side]`` with the axes
in C order (``[y, x]`` in 2-D, ``[z, y, x]`` in 3-D, as the arrays are indexed) and side 0 the
face at coordinate 0. Note that gridlod orders its axes x first.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real

import numpy as np

AXES = "xyz"


def face_names(dim: int) -> tuple[str, ...]:
    """The faces of (0,1)^dim: ``('x0', 'x1', 'y0', 'y1')`` in 2-D, and ``z0 z1`` in 3-D."""
    return tuple(f"{axis}{side}" for axis in AXES[:dim] for side in "01")


def neumann_mask(neumann, dim: int) -> np.ndarray:
    """The Neumann faces as a ``(d, 2)`` mask ``[axis (C order), side]``, checked.

    Parameters
    ----------
    neumann : None (all faces Dirichlet), face names such as ``("y0", "y1")`` (a single name
        may be given as a string), or a ``(d, 2)`` boolean mask as returned here.
    dim : d, 2 or 3.

    Raises
    ------
    ValueError
        An unknown face, a face of another dimension, a face named twice, or every face Neumann.
    TypeError
        ``neumann`` is neither None, names nor a mask.
    """
    mask = np.zeros((dim, 2), dtype=bool)
    if neumann is None:
        return mask
    if isinstance(neumann, np.ndarray) and neumann.dtype == bool:
        if neumann.shape != (dim, 2):
            raise ValueError(f"neumann mask has shape {neumann.shape}, expected {(dim, 2)}")
        mask[:] = neumann
    else:
        names = (neumann,) if isinstance(neumann, str) else neumann
        if not isinstance(names, Iterable) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"neumann must be face names such as ('y0', 'y1'), got {neumann!r}")
        allowed = face_names(dim)
        for name in names:
            if name not in allowed:
                what = (
                    f"face {name!r} does not exist in {dim}-D"
                    if name in face_names(3)
                    else f"unknown face {name!r}"
                )
                raise ValueError(f"neumann: {what}; the faces are {' '.join(allowed)}")
            axis, side = dim - 1 - AXES.index(name[0]), int(name[1])
            if mask[axis, side]:
                raise ValueError(f"neumann: face {name!r} is named twice")
            mask[axis, side] = True
    if mask.all():
        raise ValueError(
            "neumann: every face is Neumann; at least one face must be Dirichlet (the "
            "all-Neumann problem needs a compatibility condition that is not offered)"
        )
    return mask


def neumann_faces(mask: np.ndarray) -> tuple[str, ...]:
    """The names of the Neumann faces of a mask, in the order of ``face_names``."""
    dim = mask.shape[0]
    return tuple(
        name for name in face_names(dim) if mask[dim - 1 - AXES.index(name[0]), int(name[1])]
    )


def free_nodes(index: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    """Which grid nodes carry an unknown: in the closed domain and not on a Dirichlet face.

    ``index`` is ``(d, ...)``, integer node coordinates in C order of the axes on a grid of n
    cells per side (values outside ``[0, n]`` lie outside D and are not free); one rule for the
    coarse and the fine grid.
    """
    index = np.asarray(index)
    shape = (-1,) + (1,) * (index.ndim - 1)
    low, high = mask[:, 0].reshape(shape), mask[:, 1].reshape(shape)
    inside = ((index > 0) | ((index == 0) & low)) & ((index < n) | ((index == n) & high))
    return np.all(inside, axis=0)


# -- non-zero boundary data --------------------------------------------------------------------
# u = g on the Dirichlet faces and A∇u·ν = ψ (the outward flux density, ν the outer normal) on
# the Neumann faces. ``dirichlet`` is a callable g(x, y[, z]) or a dict {face: constant or
# callable}; ``flux`` a dict {face: constant or callable ψ(x, y[, z])}. A Dirichlet face that the
# dict leaves out has g = 0; at an edge or corner of two faces with data the face first in
# ``face_names`` order gives the value.


def _face_index(name: str, dim: int) -> tuple[int, int]:
    """(axis in C order, side) of a face name."""
    return dim - 1 - AXES.index(name[0]), int(name[1])


def check_data(mask: np.ndarray, dirichlet=None, flux=None) -> None:
    """Refuse data on a face of the wrong type or of another dimension (ValueError naming the
    argument), and data that is neither a number nor a callable (TypeError)."""
    dim = mask.shape[0]
    for arg, data, want in (("dirichlet", dirichlet, False), ("flux", flux, True)):
        if data is None or (arg == "dirichlet" and callable(data)):
            continue
        if not isinstance(data, dict):
            raise TypeError(f"{arg} must be a dict {{face: value}}, got {type(data).__name__}")
        for name, value in data.items():
            if name not in face_names(dim):
                raise ValueError(
                    f"{arg}: unknown face {name!r}; the faces are {' '.join(face_names(dim))}"
                )
            if mask[_face_index(name, dim)] != want:
                kind = "Neumann" if mask[_face_index(name, dim)] else "Dirichlet"
                other = "flux" if arg == "dirichlet" else "dirichlet"
                raise ValueError(
                    f"{arg}: face {name!r} is a {kind} face; give its data with {other}"
                )
            if not callable(value) and not isinstance(value, Real):
                raise TypeError(f"{arg}[{name!r}] must be a number or a callable, got {value!r}")


def _evaluate(value, coords) -> np.ndarray:
    """A constant or a callable f(x, y[, z]) at points ``coords`` = (x, y[, z]) arrays."""
    if callable(value):
        return np.broadcast_to(np.asarray(value(*coords), dtype=float), coords[0].shape)
    return np.full(coords[0].shape, float(value))


def dirichlet_values(n: int, mask: np.ndarray, dirichlet=None) -> np.ndarray:
    """Nodal values of g on the Dirichlet nodes of the grid of n cells per side, 0 elsewhere.

    Shape ``(n + 1,) * d`` in C order. On the coarse grid this is the lifting g̃ ∈ V_H of the
    PG-LOD solution (its nodal interpolant on ∂D, extended by 0 inside), on the fine grid the
    boundary values of the fine reference.
    """
    dim = mask.shape[0]
    index = np.indices((n + 1,) * dim)
    coords = tuple(index[::-1] / n)  # (x, y[, z])
    fixed = ~free_nodes(index.reshape(dim, -1), n, mask).reshape(index.shape[1:])
    values = np.zeros(index.shape[1:])
    if dirichlet is None:
        return values
    if callable(dirichlet):
        return np.where(fixed, _evaluate(dirichlet, coords), 0.0)
    done = np.zeros_like(fixed)
    for name in face_names(dim):
        if name in dirichlet:
            axis, side = _face_index(name, dim)
            on = (index[axis] == side * n) & ~done
            values[on] = _evaluate(dirichlet[name], coords)[on]
            done |= on
    return values


def flux_load(n: int, mask: np.ndarray, flux=None, points: int = 8) -> np.ndarray:
    """(ψ, φ_i) over the Neumann faces for the Q1 hats φ_i of the grid of n cells per side.

    Shape ``(n + 1,) * d`` in C order; a tensor Gauss rule of ``points`` per direction on each
    face cell (exact for ψ polynomial of degree <= 2 points − 2 per variable on each cell).
    """
    dim = mask.shape[0]
    out = np.zeros((n + 1,) * dim)
    if not flux:
        return out
    for name, value in flux.items():
        axis, side = _face_index(name, dim)
        face = [slice(None)] * dim
        face[axis] = side * n
        out[tuple(face)] += _face_moments(value, axis, side, dim, n, [0] * dim, n, points)
    return out


def _face_moments(value, axis, side, dim, n, first, count, points) -> np.ndarray:
    """(ψ, φ_i) over the cells ``first[k] .. first[k] + count − 1`` (per face axis k ≠ ``axis``)
    of the face (axis, side) of the grid of n cells per side, for the hats φ_i of the nodes
    ``first[k] .. first[k] + count``: shape ``(count + 1,) * (d − 1)``, face axes in C order."""
    xi, w = np.polynomial.legendre.leggauss(points)
    xi, w = (xi + 1) / 2, w / 2
    basis = np.stack([1 - xi, xi])  # [local node, point]
    # On the face: the d−1 other axes, ``count`` cells each; points per cell, values at them.
    others = [k for k in range(dim) if k != axis]
    cells = np.arange(count)
    grids = np.meshgrid(
        *[((first[k] + cells)[:, None] + xi[None, :]).ravel() / n for k in others], indexing="ij"
    )
    coords = [None] * dim
    for k, g in zip(others, grids):
        coords[k] = g
    coords[axis] = np.full(grids[0].shape, float(side))
    psi = _evaluate(value, tuple(coords[::-1]))  # callables take (x, y[, z])
    # Tensor moments: per face axis, (node, cell·point) weights of the 1-D hats.
    hat = np.zeros((count + 1, count * points))
    for a in range(2):
        hat[cells[:, None] + a, (cells[:, None] * points + np.arange(points))] += basis[a] * w / n
    moments = psi
    for _ in range(dim - 1):
        moments = np.tensordot(moments, hat, axes=([0], [1]))  # contracts the leading axis
    return moments


def element_flux_loads(
    n_coarse: int, n_sub: int, mask: np.ndarray, flux, elements, points: int = 8
) -> np.ndarray:
    """(ψ, φ_i)_{∂D_N ∩ ∂T} for the fine hats φ_i at the nodes of each coarse element T.

    The fine face load of ``flux_load(n_coarse n_sub, ...)`` cut into the part of each coarse
    element (the same rule on the same fine face cells: their sum over T is that load, to
    round-off). Shape ``(len(elements), (n_sub + 1) ** d)``, T's fine nodes in C order; rows
    of elements without a Neumann face with data are 0.
    """
    dim = mask.shape[0]
    elements = np.asarray(elements, dtype=np.int64).reshape(-1)
    out = np.zeros((elements.size,) + (n_sub + 1,) * dim)
    n_fine = n_coarse * n_sub
    for name, value in (flux or {}).items():
        axis, side = _face_index(name, dim)
        for k, t in enumerate(elements.tolist()):
            index = np.unravel_index(t, (n_coarse,) * dim)
            if index[axis] != side * (n_coarse - 1):
                continue
            first = [i * n_sub for i in index]
            face = [k] + [slice(None)] * dim
            face[1 + axis] = side * n_sub
            out[tuple(face)] += _face_moments(value, axis, side, dim, n_fine, first, n_sub, points)
    return out.reshape(elements.size, -1)
