"""Q1 element templates in closed form and structured assembly with them (NumPy/SciPy only).

On the unit cell [0, 1]^d the multilinear element matrices are tensor products of the 1-D ones,

    k_1 = [[1, -1], [-1, 1]],    m_1 = [[1/3, 1/6], [1/6, 1/3]],
    K_ref = sum_a m_1 ⊗ ... ⊗ k_1 (factor a) ⊗ ... ⊗ m_1,    M_ref = m_1 ⊗ ... ⊗ m_1,

with the local nodes in C order of the axes ``[.., iy, ix]`` (in 2-D: y0 x0, y0 x1, y1 x0, y1
x1), so that the leftmost factor acts on the slowest axis. On a cell of side h the stiffness
scales with h^(d-2) (in 2-D not at all) and the mass with h^d. Every fine and coarse operator of
the package is built from these two templates; the tests check them against DOLFINx's own
assembly on quadrilaterals and hexahedra. Nothing here imports DOLFINx or PETSc, so the torch
corrector backend runs on machines without either.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp


@lru_cache(maxsize=4)
def _templates(dim: int) -> tuple[np.ndarray, np.ndarray]:
    k1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    m1 = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6.0

    def product(factors):
        out = np.ones((1, 1))
        for f in factors:
            out = np.kron(out, f)
        return out

    k_ref = sum(product([k1 if b == a else m1 for b in range(dim)]) for a in range(dim))
    m_ref = product([m1] * dim)
    for a in (k_ref, m_ref):
        a.setflags(write=False)
    return k_ref, m_ref


def reference_element_matrices(dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Q1 stiffness and mass ``(k_ref, m_ref)`` of the unit cell [0, 1]^dim, 2^dim x 2^dim,
    read-only."""
    if dim not in (1, 2, 3):
        raise ValueError(f"Q1 elements in dimension 1, 2 or 3; got {dim}")
    return _templates(dim)


def stiffness_scale(cells_per_side: int, dim: int) -> float:
    """h^(d-2) for cells of side h = 1 / ``cells_per_side``: the factor of ``k_ref`` on them."""
    return float(cells_per_side) ** (2 - dim)


def q1_matrix(cell_values: np.ndarray, element: np.ndarray) -> sp.csr_matrix:
    """Assembled Q1 matrix on a structured grid: sum over cells of ``cell_values[c] * element``.

    ``cell_values`` is the array of cell weights in C order of the axes (``[iy, ix]`` in 2-D,
    ``[iz, iy, ix]`` in 3-D; e.g. the coefficient for the stiffness, ones for the mass with
    ``element = h**d m_ref``); nodes are numbered in the same C order over all nodes, boundary
    included (``iy * (nx + 1) + ix`` in 2-D).
    """
    cell_values = np.asarray(cell_values, dtype=float)
    cells, nodes_shape = cell_values.shape, tuple(n + 1 for n in cell_values.shape)
    dim = len(cells)
    first = np.ravel_multi_index(np.indices(cells).reshape(dim, -1), nodes_shape)
    corners = np.indices((2,) * dim).reshape(dim, -1)  # C order: the last axis fastest
    local = np.ravel_multi_index(corners, nodes_shape)
    nodes = first[:, None] + local[None, :]  # (cells, 2^dim)
    k = local.size
    rows = np.repeat(nodes, k, axis=1).ravel()
    cols = np.tile(nodes, (1, k)).ravel()
    vals = (cell_values.ravel()[:, None] * np.asarray(element).ravel()[None, :]).ravel()
    size = int(np.prod(nodes_shape))
    return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
