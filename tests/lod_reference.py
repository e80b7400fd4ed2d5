"""Independent reference computations for the LOD tests: plain SciPy on the whole fine grid.

Nothing here uses the padded-patch templates of ``lod_fenicsx.corrector``; only the global
I_H, the prolongation and the DOLFINx element templates are shared.
"""

import numpy as np

from lod_fenicsx.q1 import q1_matrix, reference_element_matrices
from lod_fenicsx.interpolation import interpolation_matrix, prolongation


def fine_stiffness(coefficient):
    k_ref, _ = reference_element_matrices()
    return q1_matrix(coefficient, k_ref)


def fine_interior(n_fine):
    iy, ix = np.divmod(np.arange((n_fine + 1) ** 2), n_fine + 1)
    return (iy > 0) & (iy < n_fine) & (ix > 0) & (ix < n_fine)


def coarse_interior(n_coarse):
    return fine_interior(n_coarse)


def patch_local_matrix(coefficient, n_coarse, n_sub, ell, t, mask=True):
    """S_{A,T} on the true (unpadded) patch N^ℓ(T) ∩ D by a dense saddle-point solve.

    Returns ``(rows, matrix)``: global coarse nodes of the patch and the matrix (rows those
    nodes, columns T's 4 nodes in [iy, ix] order).
    """
    n_fine = n_coarse * n_sub
    ty, tx = divmod(t, n_coarse)
    y0, y1 = max(ty - ell, 0), min(ty + ell + 1, n_coarse)
    x0, x1 = max(tx - ell, 0), min(tx + ell + 1, n_coarse)
    fy, fx = np.divmod(np.arange((n_fine + 1) ** 2), n_fine + 1)
    free = (fy > y0 * n_sub) & (fy < y1 * n_sub) & (fx > x0 * n_sub) & (fx < x1 * n_sub)
    free = np.flatnonzero(free)
    cy, cx = np.divmod(np.arange((n_coarse + 1) ** 2), n_coarse + 1)
    in_patch = (cy >= y0) & (cy <= y1) & (cx >= x0) & (cx <= x1)
    constrained = np.flatnonzero(in_patch & coarse_interior(n_coarse))
    patch_nodes = np.flatnonzero(in_patch)
    # Stiffness on the patch and on T only.
    a_patch = np.zeros_like(coefficient)
    a_patch[y0 * n_sub : y1 * n_sub, x0 * n_sub : x1 * n_sub] = coefficient[
        y0 * n_sub : y1 * n_sub, x0 * n_sub : x1 * n_sub
    ]
    a_t = np.zeros_like(coefficient)
    a_t[ty * n_sub : (ty + 1) * n_sub, tx * n_sub : (tx + 1) * n_sub] = coefficient[
        ty * n_sub : (ty + 1) * n_sub, tx * n_sub : (tx + 1) * n_sub
    ]
    k_patch = fine_stiffness(a_patch).toarray()
    k_t = fine_stiffness(a_t).toarray()
    p = prolongation(n_coarse, n_sub).toarray()
    t_nodes = np.array([ty * (n_coarse + 1) + tx + o for o in (0, 1, n_coarse + 1, n_coarse + 2)])
    i_h = interpolation_matrix(n_coarse, n_sub).toarray()
    c = i_h[np.ix_(constrained, free)]
    k = k_patch[np.ix_(free, free)]
    b = (k_t @ p[:, t_nodes])[free]
    nc = c.shape[0]
    saddle = np.block([[k, c.T], [c, np.zeros((nc, nc))]])
    sol = np.linalg.solve(saddle, np.vstack([b, np.zeros((nc, 4))]))
    q = np.zeros((p.shape[0], 4))
    q[free] = sol[: free.size]
    s = p[:, patch_nodes].T @ (k_t @ p[:, t_nodes] - k_patch @ q)
    if mask:
        s[~coarse_interior(n_coarse)[patch_nodes], :] = 0
        s[:, ~coarse_interior(n_coarse)[t_nodes]] = 0
    return patch_nodes, s, q


def galerkin_lod_matrix(coefficient, n_coarse, n_sub):
    """Ideal (ℓ = ∞) Galerkin LOD matrix on the interior coarse nodes, via global correctors."""
    n_fine = n_coarse * n_sub
    k = fine_stiffness(coefficient).toarray()
    p = prolongation(n_coarse, n_sub).toarray()
    i_h = interpolation_matrix(n_coarse, n_sub).toarray()
    free = np.flatnonzero(fine_interior(n_fine))
    cint = np.flatnonzero(coarse_interior(n_coarse))
    c = i_h[np.ix_(cint, free)]
    kf = k[np.ix_(free, free)]
    lam = p[:, cint]
    b = (k @ lam)[free]
    nc = c.shape[0]
    saddle = np.block([[kf, c.T], [c, np.zeros((nc, nc))]])
    sol = np.linalg.solve(saddle, np.vstack([b, np.zeros((nc, cint.size))]))
    q = np.zeros_like(lam)
    q[free] = sol[: free.size]
    corrected = lam - q
    return corrected.T @ k @ corrected, q


def fine_solution(coefficient, rhs_values):
    """Fine Q1 FEM solution with load M_h f (f nodal on all fine nodes), all nodes, [iy, ix]."""
    n_fine = coefficient.shape[0]
    _, m_ref = reference_element_matrices()
    k = fine_stiffness(coefficient).tocsr()
    m = q1_matrix(np.ones_like(coefficient), m_ref / n_fine**2)
    free = np.flatnonzero(fine_interior(n_fine))
    from scipy.sparse.linalg import spsolve

    u = np.zeros((n_fine + 1) ** 2)
    u[free] = spsolve(k[free][:, free].tocsc(), (m @ rhs_values.ravel())[free])
    return u
