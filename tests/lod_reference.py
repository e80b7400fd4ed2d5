"""Independent reference computations for the LOD tests: plain SciPy on the whole fine grid.

Nothing here uses the padded-patch templates of ``lod_fenicsx.corrector``; only the global
I_H, the prolongation and the DOLFINx element templates are shared.
"""

import numpy as np

from lod_fenicsx.boundary import flux_load, free_nodes, neumann_mask
from lod_fenicsx.q1 import q1_matrix, reference_element_matrices
from lod_fenicsx.interpolation import interpolation_matrix, prolongation


def fine_stiffness(coefficient):
    coefficient = np.asarray(coefficient)
    dim = coefficient.ndim
    k_ref, _ = reference_element_matrices(dim)
    h = 1.0 / coefficient.shape[0]
    return q1_matrix(coefficient, h ** (dim - 2) * k_ref)


def fine_interior(n_fine, dim=2, neumann=None):
    """Nodes that carry an unknown: not on a Dirichlet face (all faces by default)."""
    index = np.indices((n_fine + 1,) * dim).reshape(dim, -1)
    return free_nodes(index, n_fine, neumann_mask(neumann, dim))


def coarse_interior(n_coarse, dim=2, neumann=None):
    return fine_interior(n_coarse, dim, neumann)


def patch_local_matrix(coefficient, n_coarse, n_sub, ell, t, mask=True, neumann=None, load=None):
    """S_{A,T} on the true (unpadded) patch N^ℓ(T) ∩ D by a dense saddle-point solve, in the
    dimension of ``coefficient`` (2-D ``[iy, ix]`` or 3-D ``[iz, iy, ix]``). On a face of the
    patch that is a Neumann face of D (``neumann``) the correctors are free; they vanish on
    every other face of the patch.

    Returns ``(rows, matrix, correctors)``: global coarse nodes of the patch and the matrix (rows
    those nodes, columns T's 2^d nodes in C order). With a fine ``load`` (nodal, all fine nodes)
    also a(R_T, λ_i) for those rows, R_T in the correctors' space with a(R_T, w) = load(w).
    """
    dim = coefficient.ndim
    n_fine = n_coarse * n_sub
    t_index = np.array(np.unravel_index(t, (n_coarse,) * dim))
    lo = np.maximum(t_index - ell, 0)
    hi = np.minimum(t_index + ell + 1, n_coarse)
    faces = neumann_mask(neumann, dim)
    low = (faces[:, 0] & (lo == 0))[:, None]  # patch faces on a Neumann face of D: free
    high = (faces[:, 1] & (hi == n_coarse))[:, None]
    f_index = np.indices((n_fine + 1,) * dim).reshape(dim, -1)
    above = np.where(low, f_index >= lo[:, None] * n_sub, f_index > lo[:, None] * n_sub)
    below = np.where(high, f_index <= hi[:, None] * n_sub, f_index < hi[:, None] * n_sub)
    free = np.flatnonzero(np.all(above & below, axis=0))
    c_index = np.indices((n_coarse + 1,) * dim).reshape(dim, -1)
    in_patch = np.all((c_index >= lo[:, None]) & (c_index <= hi[:, None]), axis=0)
    interior = coarse_interior(n_coarse, dim, faces)
    constrained = np.flatnonzero(in_patch & interior)
    patch_nodes = np.flatnonzero(in_patch)
    # Stiffness on the patch and on T only.
    patch_cells = tuple(slice(a * n_sub, b * n_sub) for a, b in zip(lo, hi))
    t_cells = tuple(slice(a * n_sub, (a + 1) * n_sub) for a in t_index)
    a_patch = np.zeros_like(coefficient)
    a_patch[patch_cells] = coefficient[patch_cells]
    a_t = np.zeros_like(coefficient)
    a_t[t_cells] = coefficient[t_cells]
    k_patch = fine_stiffness(a_patch).toarray()
    k_t = fine_stiffness(a_t).toarray()
    p = prolongation(n_coarse, n_sub, dim).toarray()
    corners = np.indices((2,) * dim).reshape(dim, -1)
    t_nodes = np.ravel_multi_index(t_index[:, None] + corners, (n_coarse + 1,) * dim)
    i_h = interpolation_matrix(n_coarse, n_sub, dim, faces).toarray()
    c = i_h[np.ix_(constrained, free)]
    k = k_patch[np.ix_(free, free)]
    b = (k_t @ p[:, t_nodes])[free]
    if load is not None:
        b = np.column_stack([b, np.ravel(load)[free]])
    nc = c.shape[0]
    saddle = np.block([[k, c.T], [c, np.zeros((nc, nc))]])
    sol = np.linalg.solve(saddle, np.vstack([b, np.zeros((nc, b.shape[1]))]))
    q = np.zeros((p.shape[0], b.shape[1]))
    q[free] = sol[: free.size]
    q, r = q[:, : t_nodes.size], q[:, t_nodes.size :]
    s = p[:, patch_nodes].T @ (k_t @ p[:, t_nodes] - k_patch @ q)
    if mask:
        s[~interior[patch_nodes], :] = 0
        s[:, ~interior[t_nodes]] = 0
    if load is not None:
        return patch_nodes, s, q, (p[:, patch_nodes].T @ (k_patch @ r))[:, 0]
    return patch_nodes, s, q


def pglod_matrix(coefficient, n_coarse, n_sub, ell, neumann=None, full=False, flux=None):
    """The PG-LOD matrix S_A = Σ_T S_{A,T} on all coarse nodes (Dirichlet rows and columns 0,
    unless ``full``: then the boundary hats and their correctors too). With Neumann data
    ``flux`` also Σ_T a(R_T, λ_i) on all coarse nodes, R_T the correctors of the boundary load
    of T (``element_flux_load``)."""
    dim = coefficient.ndim
    size = (n_coarse + 1) ** dim
    corners = np.indices((2,) * dim).reshape(dim, -1)
    total = np.zeros((size, size))
    load_products = np.zeros(size)
    for t in range(n_coarse**dim):
        load = None
        if flux is not None:
            load = element_flux_load(n_coarse, n_sub, neumann_mask(neumann, dim), flux, t)
        rows, s, *rest = patch_local_matrix(
            coefficient, n_coarse, n_sub, ell, t, mask=not full, neumann=neumann, load=load
        )
        t_index = np.array(np.unravel_index(t, (n_coarse,) * dim))
        cols = np.ravel_multi_index(t_index[:, None] + corners, (n_coarse + 1,) * dim)
        total[np.ix_(rows, cols)] += s
        if flux is not None:
            load_products[rows] += rest[1]
    return total if flux is None else (total, load_products)


def element_flux_load(n_coarse, n_sub, mask, flux, t):
    """(ψ, φ_i) over ∂D_N ∩ ∂T for the fine hats, all fine nodes: the fine grid's
    ``flux_load`` of ψ times the indicator of T's closed box (the Gauss points lie inside the
    face cells, so this cuts the fine load exactly by face cell)."""
    dim = mask.shape[0]
    lo = np.array(np.unravel_index(t, (n_coarse,) * dim))[::-1] / n_coarse  # (x, y[, z])
    hi = lo + 1 / n_coarse

    def cut(value):
        def psi(*x):
            inside = np.all([(lo[k] <= x[k]) & (x[k] <= hi[k]) for k in range(dim)], axis=0)
            return np.where(inside, value(*x) if callable(value) else value, 0.0)

        return psi

    return flux_load(n_coarse * n_sub, mask, {k: cut(v) for k, v in flux.items()}).ravel()


def galerkin_lod_matrix(coefficient, n_coarse, n_sub, neumann=None):
    """Ideal (ℓ = ∞) Galerkin LOD matrix on the free coarse nodes, via global correctors."""
    n_fine, dim = n_coarse * n_sub, coefficient.ndim
    k = fine_stiffness(coefficient).toarray()
    p = prolongation(n_coarse, n_sub, dim).toarray()
    i_h = interpolation_matrix(n_coarse, n_sub, dim, neumann).toarray()
    free = np.flatnonzero(fine_interior(n_fine, dim, neumann))
    cint = np.flatnonzero(coarse_interior(n_coarse, dim, neumann))
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


def mass(n, dim=2):
    """Q1 mass matrix of (0,1)^d with n cells per side, all nodes."""
    _, m_ref = reference_element_matrices(dim)
    return q1_matrix(np.ones((n,) * dim), m_ref / n**dim)


def fine_solution(coefficient, rhs_values, neumann=None, g=None, psi=None):
    """Fine Q1 FEM solution with load M_h f (f nodal on all fine nodes), all nodes, flat C order
    (``[iy, ix]`` or ``[iz, iy, ix]``); u = g on the faces not in ``neumann`` (g nodal on all
    fine nodes, default 0) and the face load ``psi`` (nodal, (ψ, φ_i)) added."""
    n_fine, dim = coefficient.shape[0], coefficient.ndim
    k = fine_stiffness(coefficient).tocsr()
    m = mass(n_fine, dim)
    free = np.flatnonzero(fine_interior(n_fine, dim, neumann))
    from scipy.sparse.linalg import spsolve

    g = np.zeros((n_fine + 1) ** dim) if g is None else np.ravel(g).copy()
    g[free] = 0.0
    load = m @ rhs_values.ravel() - k @ g + (0 if psi is None else np.ravel(psi))
    u = g.copy()
    u[free] = spsolve(k[free][:, free].tocsc(), load[free])
    return u


def pglod_solution(
    coefficient, n_coarse, n_sub, ell, rhs_values, neumann=None, g=None, psi=None, flux=None
):
    """u_H of S_A U = M_H f (f nodal on the coarse nodes, so exact for multilinear f), U = g on
    the Dirichlet faces (all but ``neumann``; g nodal on all coarse nodes, default 0), face load
    ``psi`` added, from the whole-grid ``pglod_matrix``; all coarse nodes, flat C order. With
    ``g`` or ``psi`` also the reaction S_A U − M_H f − psi on all nodes. With the Neumann data
    ``flux`` (a dict as for ``pglod_solve``) the load has − Σ_T a(R_T, λ_i) too and the reaction
    + Σ_T a(R_T, λ_i) (boundary-load correctors)."""
    dim = coefficient.ndim
    data = g is not None or psi is not None
    s_a = pglod_matrix(coefficient, n_coarse, n_sub, ell, neumann, full=data, flux=flux)
    s_a, load_products = (s_a, 0.0) if flux is None else s_a
    load = mass(n_coarse, dim) @ np.ravel(rhs_values) + (0 if psi is None else np.ravel(psi))
    load = load - load_products
    inner = np.flatnonzero(coarse_interior(n_coarse, dim, neumann))
    u = np.zeros((n_coarse + 1) ** dim) if g is None else np.ravel(g).copy()
    u[inner] = 0.0
    rhs = load - s_a @ u
    u[inner] = np.linalg.solve(s_a[np.ix_(inner, inner)], rhs[inner])
    if data:
        return u, s_a @ u - load  # load has − a(R, λ_i): the reaction + a(R, λ_i)
    return u
