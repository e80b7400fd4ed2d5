"""Q1 element templates in closed form and structured assembly with them (NumPy/SciPy only).

On the unit square the bilinear element matrices are tensor products of the 1-D ones,

    k_1 = [[1, -1], [-1, 1]],    m_1 = [[1/3, 1/6], [1/6, 1/3]],
    K_ref = m_1 ⊗ k_1 + k_1 ⊗ m_1,    M_ref = m_1 ⊗ m_1,

with the local nodes in ``[iy, ix]`` C order (y0 x0, y0 x1, y1 x0, y1 x1), so that the left
factor acts on y. In 2-D the stiffness does not scale with the mesh size and the mass scales
with h². Every fine and coarse operator of the package is built from these two templates;
the tests check them against DOLFINx's own assembly. Nothing here imports DOLFINx or PETSc, so
the torch corrector backend runs on machines without either.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp


@lru_cache(maxsize=1)
def _templates() -> tuple[np.ndarray, np.ndarray]:
    k1 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    m1 = np.array([[2.0, 1.0], [1.0, 2.0]]) / 6.0
    k_ref = np.kron(m1, k1) + np.kron(k1, m1)
    m_ref = np.kron(m1, m1)
    for a in (k_ref, m_ref):
        a.setflags(write=False)
    return k_ref, m_ref


def reference_element_matrices() -> tuple[np.ndarray, np.ndarray]:
    """Q1 stiffness and mass ``(k_ref, m_ref)`` of the unit square, 4 x 4, read-only."""
    return _templates()


def q1_matrix(cell_values: np.ndarray, element: np.ndarray) -> sp.csr_matrix:
    """Assembled Q1 matrix on a structured grid: sum over cells of ``cell_values[c] * element``.

    ``cell_values`` is the ``[iy, ix]`` array of cell weights (e.g. the coefficient for the
    stiffness, ones for the mass with ``element = h**2 m_ref``); nodes are numbered
    ``iy * (nx + 1) + ix`` over all nodes, boundary included.
    """
    cell_values = np.asarray(cell_values, dtype=float)
    ny, nx = cell_values.shape
    cy, cx = np.divmod(np.arange(ny * nx), nx)
    base = cy * (nx + 1) + cx
    local = np.array([0, 1, nx + 1, nx + 2])
    nodes = base[:, None] + local[None, :]  # (cells, 4)
    rows = np.repeat(nodes, 4, axis=1).ravel()
    cols = np.tile(nodes, (1, 4)).ravel()
    vals = (cell_values.ravel()[:, None] * np.asarray(element).ravel()[None, :]).ravel()
    size = (ny + 1) * (nx + 1)
    return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))
