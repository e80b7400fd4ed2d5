"""Element correctors and local PG-LOD matrices (paper 000, eqs. (3.5), (3.6), (3.9), (3.10))."""

import numpy as np
import pytest
from lod_reference import galerkin_lod_matrix, patch_local_matrix

from lod_fenicsx.assembly import local_to_global_coo
from lod_fenicsx.corrector import PatchSolver, patch_fine_nodes
from lod_fenicsx.interpolation import interpolation_matrix, prolongation
from lod_fenicsx.patch import constrained_coarse_nodes, free_fine_nodes, padded_node_indices


def _coefficient(n_fine, seed=0):
    return np.random.default_rng(seed).uniform(1.0, 5.0, (n_fine, n_fine))


def _global_dense(local, elements, n_coarse, ell):
    rows, cols, vals = local_to_global_coo(local, elements, n_coarse, ell)
    size = (n_coarse + 1) ** 2
    out = np.zeros((size, size))
    np.add.at(out, (rows, cols), vals)
    return out


def _interior(n):
    iy, ix = np.divmod(np.arange((n + 1) ** 2), n + 1)
    return np.flatnonzero((iy > 0) & (iy < n) & (ix > 0) & (ix < n))


@pytest.mark.parametrize(
    "backend, options", [("petsc", {}), ("petsc", {"factor_solver": "mumps"}), ("torch", {})]
)
def test_padded_equals_unpadded(backend, options):
    """Padded S_{A,T} equals the one computed on the true patch N^ℓ(T) ∩ D, for every T."""
    n_coarse, n_sub, ell = 5, 2, 1
    a = _coefficient(n_coarse * n_sub)
    ps = PatchSolver(n_coarse, n_sub, ell, backend=backend, **options)
    local = ps.local_matrices(a)
    nodes = padded_node_indices(n_coarse, ell)
    worst = 0.0
    for t in range(n_coarse**2):
        patch_nodes, ref, _ = patch_local_matrix(a, n_coarse, n_sub, ell, t)
        mine = np.zeros(((n_coarse + 1) ** 2, 4))
        inside = nodes[t] >= 0
        mine[nodes[t][inside]] = local[t][inside]
        theirs = np.zeros_like(mine)
        theirs[patch_nodes] = ref
        worst = max(worst, np.abs(mine - theirs).max())
        # Padded rows of nodes outside D or on ∂D are exactly zero.
        assert np.all(local[t][~inside] == 0)
    assert worst < 1e-12


def test_correctors_whole_domain():
    """ℓ covering D: I_H Q_T λ_j = 0 and the orthogonality (3.6) a((1 - Q)λ_j, w) = 0 on W."""
    n_coarse, n_sub = 4, 2
    ell = n_coarse
    n_fine = n_coarse * n_sub
    a = _coefficient(n_fine, seed=1)
    ps = PatchSolver(n_coarse, n_sub, ell)
    corr = ps.correctors(a)  # (T, padded fine nodes, 4)
    i_h = interpolation_matrix(n_coarse, n_sub)
    p = prolongation(n_coarse, n_sub)
    n_f = (n_fine + 1) ** 2
    # Global Q λ_j for every coarse node j, summed over the elements T ∋ j.
    q_glob = np.zeros((n_f, (n_coarse + 1) ** 2))
    worst_ih = 0.0
    for t in range(n_coarse**2):
        fine = patch_fine_nodes(n_coarse, n_sub, ell, t)
        inside = fine >= 0
        q_t = np.zeros((n_f, 4))
        q_t[fine[inside]] = corr[t][inside]
        worst_ih = max(worst_ih, np.abs(i_h @ q_t).max())
        ty, tx = divmod(t, n_coarse)
        t_nodes = [ty * (n_coarse + 1) + tx + o for o in (0, 1, n_coarse + 1, n_coarse + 2)]
        q_glob[:, t_nodes] += q_t
    assert worst_ih < 1e-12
    from lod_reference import fine_stiffness, fine_interior

    k = fine_stiffness(a)
    cint = _interior(n_coarse)
    corrected = p.toarray()[:, cint] - q_glob[:, cint]
    # Random fine-scale functions w = (1 - P I_H) v, zero on ∂D, lie in W.
    v = np.random.default_rng(2).standard_normal((n_f, 6)) * fine_interior(n_fine)[:, None]
    w = v - p @ (i_h @ v)
    assert np.abs(i_h @ w).max() < 1e-12
    residual = np.abs(corrected.T @ (k @ w)).max()
    scale = np.abs(corrected.T @ (k @ v)).max()
    assert residual < 1e-10 * scale


def test_whole_domain_patch_gives_galerkin_lod():
    """ℓ covering D: S_A equals the Galerkin LOD matrix and is symmetric."""
    n_coarse, n_sub = 4, 3
    a = _coefficient(n_coarse * n_sub, seed=3)
    ps = PatchSolver(n_coarse, n_sub, n_coarse)
    s_a = _global_dense(ps.local_matrices(a), np.arange(n_coarse**2), n_coarse, n_coarse)
    cint = _interior(n_coarse)
    s_int = s_a[np.ix_(cint, cint)]
    galerkin, _ = galerkin_lod_matrix(a, n_coarse, n_sub)
    assert np.abs(s_int - galerkin).max() < 1e-11 * np.abs(galerkin).max()
    assert np.abs(s_int - s_int.T).max() < 1e-11 * np.abs(s_int).max()


def test_zero_row_and_column_sums():
    """On the full node set (boundary hats kept) S_A has vanishing row and column sums."""
    n_coarse, n_sub, ell = 5, 2, 1
    a = _coefficient(n_coarse * n_sub, seed=4)
    ps = PatchSolver(n_coarse, n_sub, ell)
    full = ps.full_local_matrices(a)
    # Assemble on all nodes: padded node positions mapped without the interior mask.
    ty, tx = np.divmod(np.arange(n_coarse**2), n_coarse)
    k = np.arange(2 * ell + 2)
    iy = ty[:, None, None] - ell + k[None, :, None]
    ix = tx[:, None, None] - ell + k[None, None, :]
    iy, ix = np.broadcast_arrays(iy, ix)
    inside = (iy >= 0) & (iy <= n_coarse) & (ix >= 0) & (ix <= n_coarse)
    nodes = np.where(inside, iy * (n_coarse + 1) + ix, -1).reshape(n_coarse**2, -1)
    size = (n_coarse + 1) ** 2
    s_a = np.zeros((size, size))
    t_pos = np.array([ell * (2 * ell + 2) + ell + o for o in (0, 1, 2 * ell + 2, 2 * ell + 3)])
    for t in range(n_coarse**2):
        ok = nodes[t] >= 0
        s_a[np.ix_(nodes[t][ok], nodes[t][t_pos])] += full[t][ok]
        assert np.all(full[t][~ok] == 0)
    scale = np.abs(s_a).max()
    assert np.abs(s_a.sum(axis=0)).max() < 1e-12 * scale
    assert np.abs(s_a.sum(axis=1)).max() < 1e-12 * scale
    # PG-LOD is not symmetric for finite ℓ.
    assert np.abs(s_a - s_a.T).max() > 1e-6 * scale


def test_element_subset_and_order():
    """Results do not depend on which other elements are computed alongside, nor on order."""
    n_coarse, n_sub, ell = 6, 2, 2
    a = _coefficient(n_coarse * n_sub, seed=5)
    ps = PatchSolver(n_coarse, n_sub, ell)
    full = ps.local_matrices(a)
    subset = np.array([35, 7, 0, 14])
    np.testing.assert_allclose(ps.local_matrices(a, subset), full[subset], atol=1e-13)


def test_global_interpolation_annihilates_local_correctors():
    """ℓ = 1 on 5 x 5: I_H (whole-domain n_z) of every embedded Q_T λ_j vanishes, including at
    the coarse nodes on the inner boundary of the patch (constraints at all of them)."""
    n_coarse, n_sub, ell = 5, 3, 1
    a = _coefficient(n_coarse * n_sub, seed=6)
    corr = PatchSolver(n_coarse, n_sub, ell).correctors(a)
    i_h = interpolation_matrix(n_coarse, n_sub)
    n_f = (n_coarse * n_sub + 1) ** 2
    worst, scale = 0.0, 0.0
    for t in range(n_coarse**2):
        fine = patch_fine_nodes(n_coarse, n_sub, ell, t)
        q_t = np.zeros((n_f, 4))
        q_t[fine[fine >= 0]] = corr[t][fine >= 0]
        worst = max(worst, np.abs(i_h @ q_t).max())
        scale = max(scale, np.abs(q_t).max())
    assert scale > 1e-2 and worst < 1e-13 * scale


def test_constraint_counts():
    """36 constraints for an interior patch with ℓ = 2; a corner patch keeps (ℓ+1)^2 = 9."""
    ps = PatchSolver(8, 2, 2)
    interior, corner = ps.type_key(4 * 8 + 4), ps.type_key(0)
    assert constrained_coarse_nodes(interior, 2).sum() == 36
    assert constrained_coarse_nodes(corner, 2).sum() == 9
    assert free_fine_nodes(interior, 2, 2).sum() == (5 * 2 - 1) ** 2
    assert free_fine_nodes(corner, 2, 2).sum() == (3 * 2 - 1) ** 2
