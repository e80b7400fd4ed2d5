"""Element patches N^ℓ(T) on the structured coarse grid and their padded form (paper 000, Sec. 3.4).

Conventions, the single place they are defined (files, the network and the assembly all use them).
They hold in any dimension d (2 or 3) with the axes in C order, ``[iy, ix]`` or ``[iz, iy, ix]``
(x fastest); every function takes d as ``dim`` (default 2) or reads it from its input.

* Coarse elements T are numbered ``t = ty * n_coarse + tx`` (3-D: ``(tz * n_coarse + ty) *
  n_coarse + tx``); coarse nodes ``iy * (n_coarse + 1) + ix`` likewise.
* Every patch is padded to ``(2ℓ+1)^d`` coarse elements: T sits in the middle, and patch
  cells outside D carry the coefficient value 0.
* ``R_T(A)``: the fine cells of the padded patch as an array of side ``(2ℓ+1) n``, flattened in
  C order; ``(2ℓ+1)^d n^d`` values (1600 for d = 2, ℓ = 2, n = 8).
* ``S_{A,T}``: rows are the ``(2ℓ+2)^d`` coarse nodes of the padded patch in C order, columns
  the 2^d nodes of T in C order: (y0, x0), (y0, x1), (y1, x0), (y1, x1) in 2-D, (z0, y0, x0),
  (z0, y0, x1), ... in 3-D. Rows and columns of nodes that carry no unknown are zero: nodes
  not interior to D, or, with Neumann faces (``lod_fenicsx.boundary``), nodes on a Dirichlet
  face.
  Flattened column-wise (Fortran order) it is the network's output vector of ``4 (2ℓ+2)^2``
  values (144 for d = 2, ℓ = 2).
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from lod_fenicsx.boundary import free_nodes, neumann_mask
from plumbing.checks import check_real_array, check_size


def _grid(shape: tuple[int, ...]) -> np.ndarray:
    """Multi-indices of a box of ``shape`` in C order (last axis fastest): ``(d, prod(shape))``."""
    return np.indices(shape).reshape(len(shape), -1)


def _outer_and(masks: list[np.ndarray]) -> np.ndarray:
    """Flattened tensor product of per-axis masks, first axis slowest."""
    return reduce(np.logical_and.outer, masks).ravel()


def padded_cell_indices(n_coarse: int, n_sub: int, ell: int, dim: int = 2) -> np.ndarray:
    """Gather indices of R_T for every T into the flattened zero-padded fine field.

    Returns an integer array of shape ``(n_coarse**d, ((2ℓ+1) n)**d)``; with ``pad_field`` it
    cuts all padded patches in one vectorised gather, ``pad_field(A).ravel()[idx]`` (works
    for NumPy arrays and torch tensors alike).
    """
    side = (n_coarse + 2 * ell) * n_sub  # padded field side
    m = (2 * ell + 1) * n_sub  # padded patch side
    # In padded coordinates the patch of T = (.., ty, tx) starts at fine cell (.., ty n, tx n).
    first = _grid((n_coarse,) * dim) * n_sub
    cells = first[:, :, None] + _grid((m,) * dim)[:, None, :]  # (d, elements, m^d)
    return np.ravel_multi_index(tuple(cells), (side,) * dim)


def pad_field(field: np.ndarray, n_sub: int, ell: int) -> np.ndarray:
    """The fine field (any dimension) surrounded by ℓ coarse layers of zeros (A = 0 outside D)."""
    w = ell * n_sub
    return np.pad(np.asarray(field), w, mode="constant", constant_values=0.0)


def padded_patches(field: np.ndarray, n_coarse: int, n_sub: int, ell: int) -> np.ndarray:
    """R_T(A) for every coarse element T: shape ``(n_coarse**d, ((2ℓ+1) n)**d)``, d = field.ndim.

    Each row is the coefficient on the padded patch of T (T in the middle, 0 outside D),
    flattened in C order: the network input of paper 000, Sec. 4 (conventions in this
    module's docstring).

    Parameters
    ----------
    field : numpy.ndarray
        The fine coefficient, ``[iy, ix]`` or ``[iz, iy, ix]`` of shape ``(n_coarse n_sub,) * d``.
    n_coarse : int
        Coarse elements per side.
    n_sub : int
        Fine cells per coarse element per side.
    ell : int
        Oversampling layers ℓ.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_coarse**d, ((2ℓ+1) n_sub)**d)``, row t for the coarse element t (C order).

    Raises
    ------
    ValueError
        If ``field`` does not have the shape ``(n_coarse n_sub,) * d``.

    Examples
    --------
    >>> import numpy as np
    >>> patches = padded_patches(np.ones((8, 8)), 4, 2, 1)
    >>> patches.shape
    (16, 36)
    >>> int(patches[0].sum())  # the corner element: 4 of its 9 patch elements lie in D
    16
    """
    n_coarse, n_sub = check_size("n_coarse", n_coarse), check_size("n_sub", n_sub)
    ell = check_size("ell", ell, 0)
    field = check_real_array("field", field, dtype=None)
    expected = (n_coarse * n_sub,) * (field.ndim if field.ndim in (2, 3) else 2)
    if field.shape != expected:
        raise ValueError(
            f"field has shape {field.shape}, expected {expected} ([iy, ix] or [iz, iy, ix])"
        )
    idx = padded_cell_indices(n_coarse, n_sub, ell, field.ndim)
    return pad_field(field, n_sub, ell).ravel()[idx]


def padded_node_indices(n_coarse: int, ell: int, dim: int = 2, neumann=None) -> np.ndarray:
    """Global coarse node of every padded-patch node, -1 where it carries no unknown: outside D
    or on a Dirichlet face (``lod_fenicsx.boundary``; ``neumann=None``: every face).

    Shape ``(n_coarse**d, (2ℓ+2)**d)``; rows follow ``t``, columns the padded node order.
    """
    return _padded_nodes(n_coarse, ell, dim, neumann_mask(neumann, dim))


def padded_nodes_in_domain(n_coarse: int, ell: int, dim: int = 2) -> np.ndarray:
    """As ``padded_node_indices``, -1 only outside the closed domain (boundary nodes kept)."""
    return _padded_nodes(n_coarse, ell, dim, np.ones((dim, 2), dtype=bool))


def _padded_nodes(n_coarse: int, ell: int, dim: int, mask: np.ndarray) -> np.ndarray:
    index = _grid((n_coarse,) * dim)[:, :, None] - ell + _grid((2 * ell + 2,) * dim)[:, None, :]
    free = free_nodes(index, n_coarse, mask)
    nodes = np.ravel_multi_index(tuple(np.clip(index, 0, n_coarse)), (n_coarse + 1,) * dim)
    return np.where(free, nodes, -1)


def element_node_positions(ell: int, dim: int = 2) -> np.ndarray:
    """Positions of T's 2^d nodes among the padded patch nodes, in the column order of S_{A,T}."""
    return np.ravel_multi_index(tuple(ell + _grid((2,) * dim)), (2 * ell + 2,) * dim)


# -- position of a patch relative to ∂D --------------------------------------------------------
# A patch's "type" is the open box (a_z, b_z) x (a_y, b_y) x (a_x, b_x) (2-D: no z), in padded
# coarse coordinates, that D cuts out of it (clipped: -1 and 2ℓ+2 mean "beyond the patch"). All
# patches of one type share which fine unknowns are free and which coarse nodes carry a
# constraint. The dimension of a key is half its length.


def patch_type(n_coarse: int, ell: int, t: int, dim: int = 2) -> tuple[int, ...]:
    """``(a, b)`` per axis, ``[.., iy, ix]`` order: D ∩ (padded patch of element t) in padded
    coarse coordinates; ``(ay, by, ax, bx)`` in 2-D."""
    key = []
    for ti in np.unravel_index(int(t), (n_coarse,) * dim):
        key += [max(ell - int(ti), -1), min(n_coarse + ell - int(ti), 2 * ell + 2)]
    return tuple(key)


def _sides(key: tuple[int, ...], ell: int, neumann) -> list[tuple[int, int, bool, bool]]:
    """Per axis ``(a, b, low, high)``: D's extent in the patch and whether D's face at a (at b)
    lies in the closed patch and is Neumann, so that the nodes on it are unknowns."""
    mask = neumann_mask(neumann, len(key) // 2)
    return [
        (a, b, bool(low and a >= 0), bool(high and b <= 2 * ell + 1))
        for a, b, (low, high) in zip(key[::2], key[1::2], mask)
    ]


def open_faces(key: tuple[int, ...], ell: int, neumann=None) -> np.ndarray:
    """The faces of the padded patch that are Neumann faces of D (``a = 0`` or ``b = 2ℓ+1``), a
    ``(d, 2)`` mask: their fine nodes are unknowns but not strictly inside the patch."""
    sides = _sides(key, ell, neumann)
    return np.array([[low and a == 0, high and b == 2 * ell + 1] for a, b, low, high in sides])


def free_fine_nodes(
    key: tuple[int, ...], n_sub: int, ell: int, neumann=None, faces=None
) -> np.ndarray:
    """Mask of the fine unknowns of a patch of type ``key``: in D, not on a Dirichlet face of D
    and not on the patch boundary inside D.

    Over the ``((2ℓ+1) n − 1)**d`` fine nodes strictly inside the padded patch, C order, and
    the nodes on the patch's own ``faces`` (a ``(d, 2)`` mask, ``open_faces``) besides.
    """
    m = (2 * ell + 1) * n_sub
    faces = np.zeros((len(key) // 2, 2), dtype=bool) if faces is None else faces
    masks = []
    for (a, b, low, high), (first, last) in zip(_sides(key, ell, neumann), faces):
        j = np.arange(0 if first else 1, m + 1 if last else m)
        lower = j >= a * n_sub if low else (j > a * n_sub) & (j > 0)
        upper = j <= b * n_sub if high else (j < b * n_sub) & (j < m)
        masks.append(lower & upper)
    return _outer_and(masks)


def constrained_coarse_nodes(key: tuple[int, ...], ell: int, neumann=None) -> np.ndarray:
    """Mask of the ``(2ℓ+2)**d`` padded-patch coarse nodes that carry an unknown of V_H (in D,
    not on a Dirichlet face): one constraint (I_H Q)(z) = 0 each."""
    k = np.arange(2 * ell + 2)
    return _outer_and(
        [
            ((k >= a) if low else (k > a)) & ((k <= b) if high else (k < b))
            for a, b, low, high in _sides(key, ell, neumann)
        ]
    )


def elements_in_domain(key: tuple[int, ...], ell: int) -> np.ndarray:
    """Mask of the ``(2ℓ+1)**d`` coarse elements of the padded patch that lie in D, C order."""
    e = np.arange(2 * ell + 1)
    return _outer_and([(e >= a) & (e < b) for a, b in zip(key[::2], key[1::2])])
