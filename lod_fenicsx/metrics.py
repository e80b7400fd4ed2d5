"""Error measures of PG-LOD and of its surrogates (paper 000, Sec. 4: L2 errors, ‖S_A − Ŝ_A‖_2).

Nodal arrays are ``[iy, ix]`` on all nodes of a structured grid (boundary included), as
returned by ``pglod_solve`` and ``fine_solve``; the norms use the exact Q1 mass and
stiffness matrices assembled from the DOLFINx element templates.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from lod_fenicsx.q1 import q1_matrix, reference_element_matrices
from lod_fenicsx.interpolation import interpolation_matrix, prolongation


def mass_matrix(n: int) -> sp.csr_matrix:
    """Q1 mass matrix of the n x n grid of (0,1)^2 on all nodes."""
    _, m_ref = reference_element_matrices()
    return q1_matrix(np.ones((n, n)), m_ref / n**2)


def _norm(vec: np.ndarray, mat) -> float:
    return float(np.sqrt(max(vec @ (mat @ vec), 0.0)))


def coarse_l2_error(u: np.ndarray, v: np.ndarray) -> float:
    """‖u − v‖_{L2(D)} of two coarse Q1 functions ``[iy, ix]`` (via M_H)."""
    u, v = np.asarray(u), np.asarray(v)
    if u.shape != v.shape:
        raise ValueError(f"coarse arrays differ in shape: {u.shape} vs {v.shape}")
    return _norm((u - v).ravel(), mass_matrix(u.shape[0] - 1))


def fine_l2_error(u_fine: np.ndarray, u_coarse: np.ndarray) -> float:
    """‖u_h − P u_H‖_{L2(D)}: fine solution vs the coarse one prolonged bilinearly (via M_h)."""
    n_fine, n_coarse = u_fine.shape[0] - 1, u_coarse.shape[0] - 1
    if n_fine % n_coarse:
        raise ValueError(f"fine grid {n_fine} is not a refinement of coarse grid {n_coarse}")
    e = u_fine.ravel() - prolongation(n_coarse, n_fine // n_coarse) @ u_coarse.ravel()
    return _norm(e, mass_matrix(n_fine))


def l2_norm(u: np.ndarray) -> float:
    """‖u‖_{L2(D)} of a Q1 function ``[iy, ix]`` on any structured grid."""
    return _norm(np.asarray(u).ravel(), mass_matrix(np.asarray(u).shape[0] - 1))


def energy_norm(u: np.ndarray, coefficient: np.ndarray) -> float:
    """‖A^{1/2} ∇u‖_{L2(D)} of a fine Q1 function ``[iy, ix]``."""
    k_ref, _ = reference_element_matrices()
    return _norm(np.asarray(u).ravel(), q1_matrix(coefficient, k_ref))


def energy_error(u_fine: np.ndarray, u_coarse: np.ndarray, coefficient: np.ndarray) -> float:
    """‖A^{1/2} ∇(u_h − P u_H)‖_{L2(D)}: fine solution vs the prolonged coarse one."""
    n_fine, n_coarse = u_fine.shape[0] - 1, u_coarse.shape[0] - 1
    e = u_fine.ravel() - prolongation(n_coarse, n_fine // n_coarse) @ u_coarse.ravel()
    return energy_norm(e.reshape(u_fine.shape), coefficient)


def interpolated_l2_error(u_fine: np.ndarray, u_coarse: np.ndarray) -> float:
    """‖I_H u_h − u_H‖_{L2(D)}: the LOD error on the coarse scale (quasi-interpolant of u_h)."""
    n_fine, n_coarse = u_fine.shape[0] - 1, u_coarse.shape[0] - 1
    i_h = interpolation_matrix(n_coarse, n_fine // n_coarse)
    return coarse_l2_error((i_h @ u_fine.ravel()).reshape(u_coarse.shape), u_coarse)


def _as_operator(mat):
    """Dense/scipy matrix, or a PETSc Mat gathered to a scipy CSR matrix (on every rank)."""
    if hasattr(mat, "getValuesCSR"):
        from lod_fenicsx.assembly import gather_coo

        rows, cols, vals = gather_coo(mat, root=None)
        return sp.csr_matrix((vals, (rows, cols)), shape=mat.getSize())
    return mat


def spectral_norm(a, b=None, dense_limit: int = 3000, tol: float = 1e-10) -> float:
    """‖a − b‖_2 (largest singular value); a, b dense, SciPy sparse or PETSc matrices.

    Dense SVD up to ``dense_limit`` rows, otherwise Lanczos (ARPACK) on (a−b)^T (a−b).
    """
    diff = _as_operator(a)
    if b is not None:
        diff = diff - _as_operator(b)
    if diff.shape[0] <= dense_limit:
        dense = diff.toarray() if sp.issparse(diff) else np.asarray(diff)
        return float(np.linalg.norm(dense, 2))
    diff = sp.csr_matrix(diff)
    return float(spla.svds(diff, k=1, tol=tol, return_singular_vectors=False)[0])
