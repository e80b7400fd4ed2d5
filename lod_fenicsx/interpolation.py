"""Quasi-interpolation I_H of Ern-Guermond type and bilinear prolongation (paper 000, Sec. 3.3).

(I_H v)(z) = (1/n_z) sum_{T ∋ z} (Π_T v)(z), with Π_T the L2(T) projection onto Q1(T) and n_z
the number of coarse elements of the whole domain D that touch z (2^d at interior nodes); I_H v
vanishes at Dirichlet nodes and keeps the nodes on Neumann faces (``lod_fenicsx.boundary``).
For fine Q1 functions Π_T is one 2^d x (n+1)^d matrix shared by all T. Every function takes
the dimension d (default 2); the index arithmetic is written once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from lod_fenicsx.boundary import free_nodes, neumann_mask
from lod_fenicsx.q1 import q1_matrix, reference_element_matrices


def prolongation_1d(n_coarse: int, n_sub: int) -> np.ndarray:
    """Values of the 1-D coarse hats at the fine nodes: ``(n_coarse n_sub + 1, n_coarse + 1)``."""
    s = np.arange(n_coarse * n_sub + 1) / n_sub
    return np.maximum(0.0, 1.0 - np.abs(s[:, None] - np.arange(n_coarse + 1)[None, :]))


def prolongation(n_coarse: int, n_sub: int, dim: int = 2) -> sp.csr_matrix:
    """Multilinear prolongation P: coarse nodal vectors -> vectors on all fine nodes (both in C
    order of the axes, ``[iy, ix]`` in 2-D): the Kronecker power of the 1-D one."""
    p1 = sp.csr_matrix(prolongation_1d(n_coarse, n_sub))
    out = p1
    for _ in range(dim - 1):
        out = sp.kron(out, p1, format="csr")
    return out


@lru_cache(maxsize=8)
def element_projection(n_sub: int, dim: int = 2) -> np.ndarray:
    """Π_T as a ``(2^d, (n+1)^d)`` matrix: fine values on T's nodes -> Q1(T) nodal values.

    Π_T = M_T^{-1} P_T^T M_sub with M_sub the fine mass on T and P_T the multilinear
    interpolation of T's 2^d hats; both masses come from the closed-form template (the mesh
    size cancels).
    """
    _, m_ref = reference_element_matrices(dim)
    m_sub = q1_matrix(np.ones((n_sub,) * dim), m_ref).toarray()
    p_t = prolongation(1, n_sub, dim).toarray()  # ((n+1)^d, 2^d)
    m_t = p_t.T @ m_sub @ p_t
    return np.linalg.solve(m_t, p_t.T @ m_sub)


def _element_blocks(cells: tuple[int, ...], n_sub: int):
    """COO parts of Σ_T Π_T over a block of coarse elements of shape ``cells`` (C order of the
    axes; fine and coarse nodes numbered within the block)."""
    dim = len(cells)
    proj = element_projection(n_sub, dim)
    coarse_shape = tuple(c + 1 for c in cells)
    fine_shape = tuple(c * n_sub + 1 for c in cells)
    corner = np.indices(cells).reshape(dim, -1)  # (dim, elements)
    corners = np.indices((2,) * dim).reshape(dim, -1)
    c_nodes = np.ravel_multi_index(corner, coarse_shape)[:, None] + np.ravel_multi_index(
        corners, coarse_shape
    )
    # T's fine nodes relative to its first one, and that first node per element.
    f_local = np.ravel_multi_index(np.indices((n_sub + 1,) * dim).reshape(dim, -1), fine_shape)
    f_nodes = np.ravel_multi_index(corner * n_sub, fine_shape)[:, None] + f_local[None, :]
    n_el, k = corner.shape[1], corners.shape[1]
    rows = np.broadcast_to(c_nodes[:, :, None], (n_el, k, f_local.size)).ravel()
    cols = np.broadcast_to(f_nodes[:, None, :], (n_el, k, f_local.size)).ravel()
    vals = np.broadcast_to(proj[None], (n_el, k, f_local.size)).ravel()
    return rows, cols, vals


def interpolation_matrix(n_coarse: int, n_sub: int, dim: int = 2, neumann=None) -> sp.csr_matrix:
    """Global I_H: fine nodal vectors (all ``(N n + 1)^d`` nodes) -> coarse nodal vectors.

    Rows of Dirichlet nodes are zero, so I_H maps into V_H (vanishing on the Dirichlet faces;
    all faces with ``neumann=None``).
    """
    rows, cols, vals = _element_blocks((n_coarse,) * dim, n_sub)
    n_c = (n_coarse + 1) ** dim
    n_f = (n_coarse * n_sub + 1) ** dim
    sum_proj = sp.csr_matrix((vals, (rows, cols)), shape=(n_c, n_f))
    index = np.indices((n_coarse + 1,) * dim).reshape(dim, -1)
    inside = (index > 0) & (index < n_coarse)  # per axis
    n_z = np.prod(1 + inside, axis=0)  # coarse elements of D touching the node
    free = free_nodes(index, n_coarse, neumann_mask(neumann, dim))
    return sp.diags(np.where(free, 1.0 / n_z, 0.0)) @ sum_proj


def patch_interpolation_entries(ell: int, n_sub: int, dim: int = 2):
    """COO entries ``(rows, cols, values, elements)`` of I_H on the padded reference patch
    (weight 1/2^d), each with the patch element it comes from (C order of the ``(2ℓ+1)^d``
    elements): summing those of some elements only gives I_H over them."""
    side = 2 * ell + 1
    rows, cols, vals = _element_blocks((side,) * dim, n_sub)
    elements = np.repeat(np.arange(side**dim), rows.size // side**dim)
    return rows, cols, 0.5**dim * vals, elements


def patch_interpolation_matrix(ell: int, n_sub: int, dim: int = 2) -> np.ndarray:
    """I_H on the padded reference patch, weight 1/2^d (n_z of nodes interior to D), dense.

    Rows: the ``(2ℓ+2)^d`` coarse nodes of the padded patch; columns: its
    ``((2ℓ+1) n + 1)^d`` fine nodes, both in C order of the axes. Only the elements of the
    patch contribute: a corrector vanishes outside it. Rows of nodes that carry no unknown
    must be discarded by the caller. At a node on a Neumann face only the elements in D may
    count (``patch_interpolation_entries``); there n_z < 2^d, but as a constraint
    (I_H Q)(z) = 0 a row's scale is immaterial.
    """
    side = 2 * ell + 1
    rows, cols, vals = _element_blocks((side,) * dim, n_sub)
    shape = ((side + 1) ** dim, (side * n_sub + 1) ** dim)
    return 0.5**dim * sp.csr_matrix((vals, (rows, cols)), shape=shape).toarray()
