"""Bounds that follow the mathematics: scale invariance, n = 1, ℓ beyond the domain, memory."""

import numpy as np
import pytest
from mpi4py import MPI

import lod_fenicsx.corrector as corrector
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.pglod import pglod_solve
from lod_fenicsx.reference import fine_solve


def _coefficient(n_fine, seed=0):
    return np.random.default_rng(seed).uniform(1.0, 5.0, (n_fine, n_fine))


@pytest.mark.parametrize("backend", ["petsc", "torch"])
def test_local_matrices_scale_with_the_coefficient(backend):
    """S_{cA,T} = c S_{A,T} for c from 1e-20 to 1e20.

    PETSc's absolute pivot tolerance failed at 2e12.
    """
    a = _coefficient(12, seed=1)
    ps = PatchSolver(6, 2, 1, backend=backend)
    ref = ps.local_matrices(a)
    for c in (1e-20, 2e-16, 3.7, 2e12, 1e20):
        assert np.abs(ps.local_matrices(c * a) / c - ref).max() < 1e-13 * np.abs(ref).max()
    # A power of two changes no bit.
    assert np.array_equal(ps.local_matrices(2.0**-40 * a), 2.0**-40 * ref)


def test_pglod_solution_scales_inversely():
    a = _coefficient(8, seed=2)
    ref = pglod_solve(MPI.COMM_SELF, a, 4, 2, 1, rhs="sine").u_coarse
    for c in (1e-20, 1e20):
        u = pglod_solve(MPI.COMM_SELF, c * a, 4, 2, 1, rhs="sine").u_coarse
        assert np.abs(c * u - ref).max() < 1e-12 * np.abs(ref).max()


def test_one_fine_cell_per_coarse_element_is_plain_q1_fem():
    """n = 1: W = ker I_H = {0}, no correctors, S_A is the Q1 stiffness and u_H the FEM solution."""
    n_coarse = 6
    a = _coefficient(n_coarse, seed=3)
    ps = PatchSolver(n_coarse, 1, 2)
    assert np.abs(ps.correctors(a)).max() == 0
    u_lod = pglod_solve(MPI.COMM_SELF, a, n_coarse, 1, 2, rhs="sine").u_coarse
    _, u_fem = fine_solve(Discretization(MPI.COMM_SELF, n_coarse, 1), a, "sine")
    assert np.abs(u_lod - u_fem).max() < 1e-9 * np.abs(u_fem).max()


@pytest.mark.parametrize("backend", ["petsc", "torch"])
def test_ell_beyond_the_domain_is_the_global_patch(backend):
    """ℓ >= N_H − 1 makes every patch D: ℓ = 9 on 4 x 4 equals ℓ = 3.

    That is, ℓ = 3's local matrices and correctors, embedded in the wider layout.
    """
    a = _coefficient(8, seed=4)
    wide = PatchSolver(4, 2, 9, backend=backend)
    assert wide.ell_solved == 3 and wide.s == 20
    s_wide, q_wide = wide.local_matrices_and_correctors(a)
    s3, q3 = PatchSolver(4, 2, 3, backend=backend).local_matrices_and_correctors(a)
    assert s_wide.shape == (16, 400, 4) and q_wide.shape == (16, 39**2, 4)
    inner = s_wide.reshape(16, 20, 20, 4)[:, 6:14, 6:14].reshape(16, 64, 4)
    assert np.array_equal(inner, s3) and np.abs(s_wide).sum() == pytest.approx(
        np.abs(s3).sum(), rel=1e-14
    )
    inner_q = q_wide.reshape(16, 39, 39, 4)[:, 12:27, 12:27].reshape(16, 225, 4)
    assert np.array_equal(inner_q, q3)


def test_bad_sizes_and_singular_patches_are_refused():
    for args, text in (
        ((0, 2, 1), "n_coarse 0: must be at least 1"),
        ((4, -4, 1), "n_sub -4: must be"),
        ((4, 2, -1), "ell -1: must be at least 0"),
        ((4, 2, 0), r"1 fine unknown\(s\) for 2 constraints.*use n_sub >= 3 or ell >= 1"),
    ):
        with pytest.raises(ValueError, match=text):
            PatchSolver(*args)
    assert PatchSolver(4, 3, 0).local_matrices(np.ones((12, 12))).shape == (16, 4, 4)


def test_memory_is_checked_before_allocating(monkeypatch):
    monkeypatch.setattr(corrector, "_available_memory", lambda: 50 * 2**20)
    with pytest.raises(
        ValueError, match=r"needs about .* GiB, 0.0 GiB are available; lower ell or n_sub"
    ):
        PatchSolver(16, 8, 6)
    with pytest.raises(ValueError, match="needs about"):
        PatchSolver(16, 8, 6, backend="torch", device="cpu", batch_size=64)
