"""I_H and P in any dimension (paper 000, Sec. 3.3): projection, reproduction and patch identities,
checked in 1-D, 2-D and 3-D on grids of 3-4 coarse cells per axis."""

import numpy as np
import pytest

from lod_fenicsx.interpolation import (
    interpolation_matrix,
    patch_interpolation_matrix,
    prolongation,
)


def _interior(n: int, dim: int) -> np.ndarray:
    index = np.indices((n + 1,) * dim).reshape(dim, -1)
    return np.all((index > 0) & (index < n), axis=0)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_quasi_interpolation_is_a_projection_onto_the_coarse_space(dim):
    n_coarse, n_sub = 4, 2
    i_h, p = interpolation_matrix(n_coarse, n_sub, dim), prolongation(n_coarse, n_sub, dim)
    assert i_h.shape == ((n_coarse + 1) ** dim, (n_coarse * n_sub + 1) ** dim)
    v = np.random.default_rng(dim).standard_normal((n_coarse + 1) ** dim)
    v[~_interior(n_coarse, dim)] = 0.0  # V_H: zero on the boundary
    assert np.abs(i_h @ (p @ v) - v).max() < 1e-13
    # Coarse values at fine nodes: P reproduces a multilinear function exactly.
    coords = np.indices((n_coarse * n_sub + 1,) * dim).reshape(dim, -1) / (n_coarse * n_sub)
    coarse = np.indices((n_coarse + 1,) * dim).reshape(dim, -1) / n_coarse
    f = lambda x: 1.0 + np.sum((np.arange(dim)[:, None] + 1.0) * x, axis=0)  # noqa: E731
    assert np.abs(p @ f(coarse) - f(coords)).max() < 1e-13


@pytest.mark.parametrize("dim", [2, 3])
def test_patch_interpolation_equals_the_global_one_on_an_interior_patch(dim):
    n_coarse, n_sub, ell = 5, 2, 1  # the centre element's patch touches no boundary node of D
    global_i_h = interpolation_matrix(n_coarse, n_sub, dim).toarray()
    local = patch_interpolation_matrix(ell, n_sub, dim)
    side = 2 * ell + 1
    c0, f_first = 2 - ell, (2 - ell) * n_sub
    coarse = np.ravel_multi_index(
        c0 + np.indices((side + 1,) * dim).reshape(dim, -1), (n_coarse + 1,) * dim
    )
    fine = np.ravel_multi_index(
        f_first + np.indices((side * n_sub + 1,) * dim).reshape(dim, -1),
        (n_coarse * n_sub + 1,) * dim,
    )
    # Nodes interior to the patch see all their 2^d elements inside it: the rows agree there.
    inner = np.all((np.indices((side + 1,) * dim).reshape(dim, -1) % side) != 0, axis=0)
    rows = coarse[inner]
    assert inner.sum() == (side - 1) ** dim
    assert np.abs(local[inner] - global_i_h[np.ix_(rows, fine)]).max() < 1e-15
    assert (
        np.abs(global_i_h[rows][:, np.setdiff1d(np.arange(global_i_h.shape[1]), fine)]).max() == 0
    )
