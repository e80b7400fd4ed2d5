"""Twins shared by the symmetries of the box (``PetscBackend.share_twins``): a patch whose own
faces on Neumann faces of D are the mirror image (or the axis swap) of another's is solved as
that image on one canonical twin, and its S_{A,T}, correctors and boundary-load columns moved
back. They equal those of a separate twin per signature to round-off, with fewer twins."""

import numpy as np
import pytest

from lod_fenicsx.boundary import neumann_mask
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.corrector_petsc import PetscBackend, _map_faces
from lod_fenicsx.patch import _sides, open_faces

N_SUB, ELL = 2, 1

# (d, N_H, Neumann faces, twins without sharing, with it, flux data on Neumann faces)
CASES = [
    (2, 4, ("y0", "y1"), 2, 1, {"y0": 0.7, "y1": lambda x, y: 1.0 + x}),
    (2, 4, ("x0", "x1", "y0"), 5, 3, {"x1": lambda x, y: y, "y0": -0.3}),
    (2, 4, ("x0", "y0"), 3, 2, {"x0": 1.0, "y0": lambda x, y: x}),  # the diagonal: x <-> y
    (3, 4, ("y0", "y1", "z0", "z1"), 8, 2, {"y1": lambda x, y, z: x * z, "z0": -0.4}),
    (3, 4, ("x1", "y0", "y1"), 5, 3, {"x1": 1.0, "y0": lambda x, y, z: z}),
    # N_H = 2ℓ+1: the middle patch has both faces of an axis open, y and z swap.
    (3, 3, ("y0", "y1", "z0", "z1"), 3, 2, {"z1": lambda x, y, z: x + y}),
]


def _solve(dim, n_coarse, faces, flux, share):
    a = np.random.default_rng(7 + dim).uniform(1.0, 10.0, (n_coarse * N_SUB,) * dim)
    with PatchSolver(n_coarse, N_SUB, ELL, dim=dim, neumann=faces) as ps:
        ps.backend.share_twins = share
        local, corr = ps.local_matrices_and_correctors(a)
        full, _, flux_products, flux_corr = ps.boundary_load_correctors(
            a, flux, want_correctors=True
        )
        twins = len(ps.backend._twins)
    return twins, (local, corr, full, flux_products, flux_corr)


@pytest.mark.parametrize("dim, n_coarse, faces, before, after, flux", CASES, ids=str)
def test_shared_twins_give_the_separate_twins_results_with_fewer_twins(
    dim, n_coarse, faces, before, after, flux
):
    twins_off, off = _solve(dim, n_coarse, faces, flux, share=False)
    twins_on, on = _solve(dim, n_coarse, faces, flux, share=True)
    assert (twins_off, twins_on) == (before, after)
    # Measured: <= 7.5e-15 relative per element (S, Q, R_T) and 7.9e-14 (a(R_T, λ), a sum
    # with cancellation); 2-D native Cholesky, 3-D MUMPS.
    for name, x, y in zip(("S", "Q", "S full", "a(R_T, λ)", "R_T"), off, on):
        scale = np.abs(x).reshape(len(x), -1).max(axis=1)
        assert scale.max() > 0, name  # zero rows (no load on T) must stay exactly zero
        error = np.abs(x - y).reshape(len(x), -1).max(axis=1)
        assert (error <= 1e-12 * scale).all(), (name, (error / scale).max())


def test_patches_without_a_twin_and_canonical_ones_are_bit_for_bit_the_same():
    # The patches not on a twin, and those whose faces are already canonical, are not moved.
    dim, n_coarse, faces = 3, 4, ("y0", "y1", "z0", "z1")
    _, off = _solve(dim, n_coarse, faces, {}, share=False)
    _, on = _solve(dim, n_coarse, faces, {}, share=True)
    ps = PatchSolver(n_coarse, 1, ELL, dim=dim)  # n = 1: the keys only
    mask = neumann_mask(faces, dim)
    backend = PetscBackend(N_SUB, ELL, dim=dim, neumann=faces)
    unmoved = [
        t
        for t in range(n_coarse**dim)
        if backend._canonical(open_faces(ps.type_key(t), ELL, mask))[0] == 0
    ]
    backend.close()
    assert 0 < len(unmoved) < n_coarse**dim
    for x, y in zip(off[:2], on[:2]):
        assert np.array_equal(x[unmoved], y[unmoved])


def test_the_mirrored_key_is_the_mirror_of_the_patch():
    # (a, b) -> (2ℓ+1−b, 2ℓ+1−a) reflects D's extent and swaps the Neumann sides (``_sides``).
    mask = neumann_mask(("y0", "y1"), 2)
    backend = PetscBackend(N_SUB, ELL, dim=2, neumann=mask)
    g = backend._symmetries.index(((0, 1), (True, False)))  # reflect y
    t = backend._symmetry(g)
    for key in [(-1, 2, -1, 4), (0, 3, 1, 4), (1, 4, -1, 3), (-1, 4, 0, 3)]:
        moved = tuple(t["key_offset"] + t["key_sign"] * np.array(key)[t["key"]])
        (a, b, low, high), x = _sides(key, ELL, mask)
        (a2, b2, low2, high2), x2 = _sides(moved, ELL, mask)
        assert (a2, b2, low2, high2) == (2 * ELL + 1 - b, 2 * ELL + 1 - a, high, low) and x2 == x
        assert np.array_equal(
            open_faces(moved, ELL, mask),
            _map_faces(open_faces(key, ELL, mask), (0, 1), (True, False)),
        )
    backend.close()
