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
