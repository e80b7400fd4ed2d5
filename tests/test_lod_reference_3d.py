"""The whole-grid SciPy PG-LOD reference in 3-D (the independent computation 3-D PG-LOD will be
checked against): its invariants on N_H = 3, n = 2 hexahedral grids."""

import numpy as np
import pytest
from lod_reference import galerkin_lod_matrix, patch_local_matrix, pglod_matrix

N_COARSE, N_SUB = 3, 2


def _coefficient(seed=0):
    return np.random.default_rng(seed).uniform(1.0, 10.0, (N_COARSE * N_SUB,) * 3)


@pytest.mark.parametrize("t", [0, 4, 13])  # a corner, an edge and the centre element
def test_constants_are_in_the_kernel_on_both_sides(t):
    _, s, _ = patch_local_matrix(_coefficient(), N_COARSE, N_SUB, 1, t, mask=False)
    assert s.shape[1] == 8
    scale = np.abs(s).max()
    assert np.abs(s.sum(axis=1)).max() < 1e-12 * scale
    assert np.abs(s.sum(axis=0)).max() < 1e-12 * scale


def test_whole_domain_patches_give_the_symmetric_ideal_matrix():
    a = _coefficient(1)
    s_a = pglod_matrix(a, N_COARSE, N_SUB, ell=N_COARSE)
    ideal, _ = galerkin_lod_matrix(a, N_COARSE, N_SUB)
    interior = np.flatnonzero(
        np.all((np.indices((N_COARSE + 1,) * 3).reshape(3, -1) % N_COARSE) != 0, axis=0)
    )
    inner = s_a[np.ix_(interior, interior)]
    assert np.abs(inner - ideal).max() < 1e-10 * np.abs(ideal).max()
    assert np.abs(inner - inner.T).max() < 1e-10 * np.abs(ideal).max()
    assert np.all(np.linalg.eigvalsh(ideal) > 0)


def test_scale_invariance_and_locality():
    a = _coefficient(2)
    s1 = pglod_matrix(a, N_COARSE, N_SUB, ell=1)
    assert (
        np.abs(pglod_matrix(7.5 * a, N_COARSE, N_SUB, ell=1) - 7.5 * s1).max()
        < 1e-11 * np.abs(s1).max()
    )
    # With l = 1 the corner element's patch misses the far corner node of the interior.
    rows, _, _ = patch_local_matrix(a, N_COARSE, N_SUB, 1, 0)
    assert rows.size == 3**3 and (N_COARSE + 1) ** 3 - 1 not in rows
