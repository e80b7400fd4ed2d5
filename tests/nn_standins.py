"""Small stand-ins for the coefficient families and PatchSolver, for fast nn_compress tests.

They follow the contracts of nn_compress.fields.sample and PatchSolver.local_matrices: a
sample depends on (family, index, seed) only; the local matrices depend on R_T(A) only.
"""

import zlib

import numpy as np

from lod_fenicsx.patch import padded_patches


def standin_sample(family: str, index: int, base_seed: int, n_fine: int):
    rng = np.random.default_rng([base_seed, zlib.crc32(family.encode()), index])
    a = 1.0 + 4.0 * rng.random((n_fine, n_fine))
    if family.startswith("log"):
        g = np.log(a)
        return np.exp(g), g
    return a, a


def standin_local_matrices(n_coarse: int, n_sub: int, ell: int):
    rows = (2 * ell + 2) ** 2
    pattern = np.random.default_rng(7).standard_normal((rows, 4))

    def local_matrices(a):
        p = padded_patches(a, n_coarse, n_sub, ell)  # (n_el, r)
        w = np.linspace(0.5, 1.5, p.shape[1])
        return (p @ w)[:, None, None] * pattern[None] / p.shape[1] + p[:, :1, None] * 0.01

    return local_matrices
