"""Quasi-interpolation I_H of Ern-Guermond type and bilinear prolongation (paper 000, Sec. 3.3).

(I_H v)(z) = (1/n_z) sum_{T ∋ z} (Π_T v)(z), with Π_T the L2(T) projection onto Q1(T) and n_z
the number of coarse elements of the whole domain D that touch z (4, 2 or 1); I_H v vanishes
at Dirichlet nodes. For fine Q1 functions Π_T is one 4 x (n+1)^2 matrix shared by all T.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from lod_fenicsx.q1 import q1_matrix, reference_element_matrices


def prolongation_1d(n_coarse: int, n_sub: int) -> np.ndarray:
    """Values of the 1-D coarse hats at the fine nodes: ``(n_coarse n_sub + 1, n_coarse + 1)``."""
    s = np.arange(n_coarse * n_sub + 1) / n_sub
    return np.maximum(0.0, 1.0 - np.abs(s[:, None] - np.arange(n_coarse + 1)[None, :]))


def prolongation(n_coarse: int, n_sub: int) -> sp.csr_matrix:
    """Bilinear prolongation P: coarse nodal ``[iy, ix]`` vectors -> vectors on all fine nodes."""
    p1 = sp.csr_matrix(prolongation_1d(n_coarse, n_sub))
    return sp.kron(p1, p1, format="csr")


@lru_cache(maxsize=8)
def element_projection(n_sub: int) -> np.ndarray:
    """Π_T as a ``(4, (n+1)^2)`` matrix: fine values on T's (n+1)^2 nodes -> Q1(T) nodal values.

    Π_T = M_T^{-1} P_T^T M_sub with M_sub the fine mass on T and P_T the bilinear
    interpolation of T's four hats; both masses come from the DOLFINx template (mesh size
    cancels).
    """
    _, m_ref = reference_element_matrices()
    m_sub = q1_matrix(np.ones((n_sub, n_sub)), m_ref).toarray()
    p_t = prolongation(1, n_sub).toarray()  # ((n+1)^2, 4)
    m_t = p_t.T @ m_sub @ p_t
    return np.linalg.solve(m_t, p_t.T @ m_sub)


def _element_blocks(ny: int, nx: int, n_sub: int):
    """COO parts of Σ_T Π_T over an ny x nx block of coarse elements (fine/coarse nodes local)."""
    proj = element_projection(n_sub)
    ty, tx = np.divmod(np.arange(ny * nx), nx)
    c_nodes = (ty * (nx + 1) + tx)[:, None] + np.array([0, 1, nx + 1, nx + 2])[None, :]
    nf = nx * n_sub + 1
    q = np.arange(n_sub + 1)
    f_local = (q[:, None] * nf + q[None, :]).ravel()  # T's fine nodes relative to its corner
    f_nodes = (ty * n_sub * nf + tx * n_sub)[:, None] + f_local[None, :]
    rows = np.broadcast_to(c_nodes[:, :, None], (ny * nx, 4, f_local.size)).ravel()
    cols = np.broadcast_to(f_nodes[:, None, :], (ny * nx, 4, f_local.size)).ravel()
    vals = np.broadcast_to(proj[None], (ny * nx, 4, f_local.size)).ravel()
    return rows, cols, vals


def interpolation_matrix(n_coarse: int, n_sub: int) -> sp.csr_matrix:
    """Global I_H: fine nodal vectors (all ``(N n + 1)^2`` nodes) -> coarse nodal vectors.

    Rows of Dirichlet nodes are zero, so I_H maps into V_H (vanishing on the boundary).
    """
    rows, cols, vals = _element_blocks(n_coarse, n_coarse, n_sub)
    n_c = (n_coarse + 1) ** 2
    n_f = (n_coarse * n_sub + 1) ** 2
    sum_proj = sp.csr_matrix((vals, (rows, cols)), shape=(n_c, n_f))
    iy, ix = np.divmod(np.arange(n_c), n_coarse + 1)
    n_z = (1 + ((iy > 0) & (iy < n_coarse))) * (1 + ((ix > 0) & (ix < n_coarse)))
    interior = (iy > 0) & (iy < n_coarse) & (ix > 0) & (ix < n_coarse)
    return sp.diags(np.where(interior, 1.0 / n_z, 0.0)) @ sum_proj


def patch_interpolation_matrix(ell: int, n_sub: int) -> np.ndarray:
    """I_H on the padded reference patch, weight 1/4 (n_z of nodes interior to D), dense.

    Rows: the ``(2ℓ+2)^2`` coarse nodes of the padded patch; columns: its
    ``((2ℓ+1) n + 1)^2`` fine nodes, both ``[iy, ix]`` C order. Only the elements of the
    patch contribute: a corrector vanishes outside it. Rows of nodes that are not interior
    to D must be discarded by the caller.
    """
    side = 2 * ell + 1
    rows, cols, vals = _element_blocks(side, side, n_sub)
    shape = ((side + 1) ** 2, (side * n_sub + 1) ** 2)
    return 0.25 * sp.csr_matrix((vals, (rows, cols)), shape=shape).toarray()
