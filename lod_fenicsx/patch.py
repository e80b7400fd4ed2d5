"""Element patches N^ℓ(T) on the structured coarse grid and their padded form (paper 000, Sec. 3.4).

Conventions, the single place they are defined (files, the network and the assembly all use them):

* Coarse elements T are numbered ``t = ty * n_coarse + tx``; coarse nodes
  ``iy * (n_coarse + 1) + ix``.
* Every patch is padded to ``(2ℓ+1) x (2ℓ+1)`` coarse elements: T sits in the middle, and patch
  cells outside D carry the coefficient value 0.
* ``R_T(A)``: the fine cells of the padded patch as a ``[iy, ix]`` array of side ``(2ℓ+1) n``,
  flattened in C order (x fastest); ``(2ℓ+1)^2 n^2`` values (1600 for ℓ = 2, n = 8).
* ``S_{A,T}``: rows are the ``(2ℓ+2)^2`` coarse nodes of the padded patch in ``[iy, ix]`` C order,
  columns the 4 nodes of T in ``[iy, ix]`` C order: (y0, x0), (y0, x1), (y1, x0), (y1, x1).
  Rows and columns of nodes that are not interior to D are zero. Flattened column-wise
  (Fortran order) it is the network's output vector of ``4 (2ℓ+2)^2`` values (144 for ℓ = 2).
"""

from __future__ import annotations

import numpy as np


def padded_cell_indices(n_coarse: int, n_sub: int, ell: int) -> np.ndarray:
    """Gather indices of R_T for every T into the flattened zero-padded fine field.

    Returns an integer array of shape ``(n_coarse**2, ((2ℓ+1) n)**2)``; with ``pad_field`` it
    cuts all padded patches in one vectorised gather, ``pad_field(A).ravel()[idx]`` (works
    for NumPy arrays and torch tensors alike).
    """
    side = (n_coarse + 2 * ell) * n_sub  # padded field side
    m = (2 * ell + 1) * n_sub  # padded patch side
    t = np.arange(n_coarse)
    # In padded coordinates the patch of T = (ty, tx) starts at fine cell (ty n, tx n).
    rows = t[:, None] * n_sub + np.arange(m)[None, :]  # (n_coarse, m)
    cells = rows[:, None, :, None] * side + rows[None, :, None, :]  # (ty, tx, m, m)
    return cells.reshape(n_coarse * n_coarse, m * m)


def pad_field(field: np.ndarray, n_sub: int, ell: int) -> np.ndarray:
    """The fine ``[iy, ix]`` field surrounded by ℓ coarse layers of zeros (A = 0 outside D)."""
    w = ell * n_sub
    return np.pad(np.asarray(field), w, mode="constant", constant_values=0.0)


def padded_patches(field: np.ndarray, n_coarse: int, n_sub: int, ell: int) -> np.ndarray:
    """R_T(A) for every coarse element T: shape ``(n_coarse**2, ((2ℓ+1) n)**2)``."""
    field = np.asarray(field)
    expected = (n_coarse * n_sub, n_coarse * n_sub)
    if field.shape != expected:
        raise ValueError(f"fine field has shape {field.shape}, expected {expected} ([iy, ix])")
    return pad_field(field, n_sub, ell).ravel()[padded_cell_indices(n_coarse, n_sub, ell)]


def padded_node_indices(n_coarse: int, ell: int) -> np.ndarray:
    """Global coarse node of every padded-patch node, -1 where it is not interior to D.

    Shape ``(n_coarse**2, (2ℓ+2)**2)``; rows follow ``t``, columns the padded node order.
    """
    t = np.arange(n_coarse)
    k = np.arange(2 * ell + 2)
    iy = t[:, None, None, None] - ell + k[None, None, :, None]  # (ty, 1, a, 1)
    ix = t[None, :, None, None] - ell + k[None, None, None, :]  # (1, tx, 1, b)
    iy, ix = np.broadcast_arrays(iy, ix)
    interior = (iy > 0) & (iy < n_coarse) & (ix > 0) & (ix < n_coarse)
    nodes = np.where(interior, iy * (n_coarse + 1) + ix, -1)
    return nodes.reshape(n_coarse * n_coarse, (2 * ell + 2) ** 2)


def element_node_positions(ell: int) -> np.ndarray:
    """Positions of T's 4 nodes among the padded patch nodes, in the column order of S_{A,T}."""
    s = 2 * ell + 2
    return np.array(
        [ell * s + ell, ell * s + ell + 1, (ell + 1) * s + ell, (ell + 1) * s + ell + 1]
    )


# -- position of a patch relative to ∂D --------------------------------------------------------
# A patch's "type" is the open box (ay, by) x (ax, bx), in padded coarse coordinates, that D
# cuts out of it (clipped: -1 and 2ℓ+2 mean "beyond the patch"). All patches of one type share
# which fine unknowns are free and which coarse nodes carry a constraint.


def patch_type(n_coarse: int, ell: int, t: int) -> tuple[int, int, int, int]:
    """``(ay, by, ax, bx)``: D ∩ (padded patch of element t) in padded coarse coordinates."""
    ty, tx = divmod(int(t), n_coarse)
    s = 2 * ell + 2
    return (
        max(ell - ty, -1),
        min(n_coarse + ell - ty, s),
        max(ell - tx, -1),
        min(n_coarse + ell - tx, s),
    )


def free_fine_nodes(key: tuple[int, int, int, int], n_sub: int, ell: int) -> np.ndarray:
    """Mask of the fine unknowns of a patch of type ``key`` that lie in D (not on or beyond ∂D).

    Over the ``((2ℓ+1) n − 1)**2`` fine nodes strictly inside the padded patch, ``[iy, ix]``.
    """
    ay, by, ax, bx = key
    j = np.arange(1, (2 * ell + 1) * n_sub)
    free_y = (j > ay * n_sub) & (j < by * n_sub)
    free_x = (j > ax * n_sub) & (j < bx * n_sub)
    return (free_y[:, None] & free_x[None, :]).ravel()


def constrained_coarse_nodes(key: tuple[int, int, int, int], ell: int) -> np.ndarray:
    """Mask of the ``(2ℓ+2)**2`` padded-patch coarse nodes interior to D (one constraint each)."""
    ay, by, ax, bx = key
    k = np.arange(2 * ell + 2)
    inside_y, inside_x = (k > ay) & (k < by), (k > ax) & (k < bx)
    return (inside_y[:, None] & inside_x[None, :]).ravel()
