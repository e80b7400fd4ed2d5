"""Error measures of PG-LOD and of its surrogates (paper 000, Sec. 4: L2 errors, ‖S_A − Ŝ_A‖_2).

Nodal arrays are ``[iy, ix]`` (3-D: ``[iz, iy, ix]``) on all nodes of a structured grid
(boundary included), as returned by ``pglod_solve`` and ``fine_solve``; d is their number of
axes. The norms use the exact Q1 mass and stiffness matrices assembled from the closed-form
element templates.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from lod_fenicsx.q1 import q1_matrix, reference_element_matrices, stiffness_scale
from lod_fenicsx.interpolation import interpolation_matrix, prolongation
from plumbing.checks import (
    ArgumentTypeError,
    check_finite,
    check_real,
    check_real_array,
    check_size,
)


def mass_matrix(n: int, dim: int = 2) -> sp.csr_matrix:
    """Q1 mass matrix of the grid of (0,1)^d with n cells per side, on all nodes."""
    _, m_ref = reference_element_matrices(dim)
    return q1_matrix(np.ones((n,) * dim), m_ref / n**dim)


def _refinement(u_fine: np.ndarray, u_coarse: np.ndarray) -> tuple[int, int, int]:
    """(d, N_H, n) of a fine and a coarse nodal array of one grid hierarchy."""
    n_fine, n_coarse = u_fine.shape[0] - 1, u_coarse.shape[0] - 1
    if u_fine.ndim != u_coarse.ndim:
        raise ValueError(
            f"fine and coarse arrays differ in dimension: {u_fine.ndim} vs {u_coarse.ndim}"
        )
    if n_fine % n_coarse:
        raise ValueError(f"fine grid {n_fine} is not a refinement of coarse grid {n_coarse}")
    return u_fine.ndim, n_coarse, n_fine // n_coarse


def _nodal(name: str, values) -> np.ndarray:
    """Real, finite nodal values on all nodes of a structured grid: shape ``(n + 1,) * d``."""
    values = check_real_array(name, values, ndim=(2, 3))
    if values.shape[0] < 2 or values.shape != (values.shape[0],) * values.ndim:
        raise ValueError(
            f"{name} has shape {values.shape}, expected (n + 1,) * d: the nodes of a grid"
        )
    return values


def _norm(vec: np.ndarray, mat) -> float:
    return float(np.sqrt(max(vec @ (mat @ vec), 0.0)))


def coarse_l2_error(u: np.ndarray, v: np.ndarray) -> float:
    """‖u − v‖_{L2(D)} of two coarse Q1 functions (via M_H).

    Parameters
    ----------
    u, v : numpy.ndarray
        Nodal values on all nodes of one structured grid of (0,1)^d (boundary included),
        ``[iy, ix]`` (``[iz, iy, ix]``) of shape ``(N + 1,) * d``, as ``PGLODResult.u_coarse``.

    Returns
    -------
    float
        The L² norm of the difference, computed with the exact Q1 mass matrix.

    Raises
    ------
    ValueError
        If the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> coarse_l2_error(np.ones((5, 5)), np.zeros((5, 5)))  # ‖1‖ on the unit square
    1.0
    """
    u, v = _nodal("u", u), _nodal("v", v)
    if u.shape != v.shape:
        raise ValueError(f"u and v differ in shape: {u.shape} vs {v.shape}")
    return _norm((u - v).ravel(), mass_matrix(u.shape[0] - 1, u.ndim))


def fine_l2_error(u_fine: np.ndarray, u_coarse: np.ndarray) -> float:
    """‖u_h − P u_H‖_{L2(D)}: fine solution vs the coarse one prolonged multilinearly (via M_h)."""
    dim, n_coarse, n_sub = _refinement(u_fine, u_coarse)
    e = u_fine.ravel() - prolongation(n_coarse, n_sub, dim) @ u_coarse.ravel()
    return _norm(e, mass_matrix(n_coarse * n_sub, dim))


def l2_norm(u: np.ndarray) -> float:
    """‖u‖_{L2(D)} of a Q1 function on any structured grid."""
    u = np.asarray(u)
    return _norm(u.ravel(), mass_matrix(u.shape[0] - 1, u.ndim))


def energy_norm(u: np.ndarray, coefficient: np.ndarray) -> float:
    """‖A^{1/2} ∇u‖_{L2(D)} of a fine Q1 function (the stiffness scales as h^(d-2))."""
    coefficient = np.asarray(coefficient)
    dim = coefficient.ndim
    k_ref, _ = reference_element_matrices(dim)
    scale = stiffness_scale(coefficient.shape[0], dim)
    return _norm(np.asarray(u).ravel(), q1_matrix(coefficient, k_ref * scale))


def energy_error(u_fine: np.ndarray, u_coarse: np.ndarray, coefficient: np.ndarray) -> float:
    """‖A^{1/2} ∇(u_h − P u_H)‖_{L2(D)}: fine solution vs the prolonged coarse one."""
    dim, n_coarse, n_sub = _refinement(u_fine, u_coarse)
    e = u_fine.ravel() - prolongation(n_coarse, n_sub, dim) @ u_coarse.ravel()
    return energy_norm(e.reshape(u_fine.shape), coefficient)


def interpolated_l2_error(u_fine: np.ndarray, u_coarse: np.ndarray, neumann=None) -> float:
    """‖I_H u_h − u_H‖_{L2(D)}: the LOD error on the coarse scale (quasi-interpolant of u_h).

    I_H vanishes at the Dirichlet nodes (all boundary nodes unless ``neumann`` names faces):
    there u_H's own values (its boundary data) stand in for I_H u_h, so that only the free
    nodes are compared.
    """
    dim, n_coarse, n_sub = _refinement(u_fine, u_coarse)
    i_h = interpolation_matrix(n_coarse, n_sub, dim, neumann)
    interpolant = (i_h @ u_fine.ravel()).reshape(u_coarse.shape)
    fixed = np.asarray(i_h.sum(axis=1)).reshape(u_coarse.shape) == 0  # the zero rows
    return coarse_l2_error(np.where(fixed, u_coarse, interpolant), u_coarse)


def _as_operator(mat):
    """Dense/scipy matrix, or a PETSc Mat gathered to a scipy CSR matrix (on every rank)."""
    if hasattr(mat, "getValuesCSR"):
        from lod_fenicsx.assembly import gather_coo

        rows, cols, vals = gather_coo(mat, root=None)
        return sp.csr_matrix((vals, (rows, cols)), shape=mat.getSize())
    return mat


def _matrix(name: str, mat):
    """A 2-D operator of ``spectral_norm``: finite (complex allowed), dense, sparse or PETSc."""
    mat = _as_operator(mat)
    values = mat.data if sp.issparse(mat) else mat
    try:
        values = np.asarray(values)
    except (ValueError, TypeError) as e:
        raise ArgumentTypeError(f"{name} must be a matrix ({e})") from None
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise ArgumentTypeError(f"{name} must be a numeric matrix, got dtype {values.dtype}")
    if not sp.issparse(mat) and values.ndim != 2:
        raise ValueError(f"{name} must be a matrix (2 axes), got shape {values.shape}")
    check_finite(name, values)
    return mat if sp.issparse(mat) else values


def spectral_norm(a, b=None, dense_limit: int = 3000, tol: float = 1e-10) -> float:
    """‖a − b‖_2 (largest singular value); a, b dense, SciPy sparse or PETSc matrices.

    Dense SVD up to ``dense_limit`` rows, otherwise Lanczos (ARPACK) on (a−b)^T (a−b). The
    compression error ‖S_A − Ŝ_A‖_2 of paper 000, Sec. 4.

    Parameters
    ----------
    a : array_like, scipy.sparse matrix or petsc4py.PETSc.Mat
        The first matrix; a PETSc matrix is gathered to every rank (collective).
    b : array_like, scipy.sparse matrix or petsc4py.PETSc.Mat, optional
        Subtracted from ``a``; default: the norm of ``a`` itself.
    dense_limit : int
        Most rows for the dense SVD.
    tol : float
        Relative tolerance of the sparse singular value solver.

    Returns
    -------
    float
        The largest singular value of a − b.

    Examples
    --------
    >>> import numpy as np
    >>> spectral_norm(np.diag([3.0, 1.0]), np.eye(2))
    2.0
    """
    dense_limit = check_size("dense_limit", dense_limit, 0)
    tol = check_real("tol", tol, least=0.0)
    diff = _matrix("a", a)
    if b is not None:
        other = _matrix("b", b)
        if other.shape != diff.shape:
            raise ValueError(f"a and b differ in shape: {diff.shape} vs {other.shape}")
        diff = diff - other
    if diff.shape[0] <= dense_limit:
        dense = diff.toarray() if sp.issparse(diff) else np.asarray(diff)
        return float(np.linalg.norm(dense, 2))
    diff = sp.csr_matrix(diff)
    return float(spla.svds(diff, k=1, tol=tol, return_singular_vectors=False)[0])
