"""The condensed corrector backend against the PETSc one (paper 000, eqs. (3.5), (3.9))."""

import numpy as np
import pytest
from helpers import backend_coefficient, worst_relative
from mpi4py import MPI

from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.pglod import pglod_solve


@pytest.mark.parametrize("ell", [1, 2, 3])
@pytest.mark.parametrize("n_sub", [2, 3, 8])
@pytest.mark.parametrize("kind", ["iid", "lognormal", "channels", "constant"])
def test_condensed_matches_petsc_on_every_patch_type(n_sub, ell, kind):
    """Every patch of a grid with interior patches for every ℓ (corner, edge, next-to-edge
    and interior types): equal to 1e-12 relative. Seen: at most 1e-14."""
    n_coarse = 2 * ell + 3
    a = backend_coefficient(kind, n_coarse * n_sub, seed=n_sub + 10 * ell)
    petsc = PatchSolver(n_coarse, n_sub, ell).full_local_matrices(a)
    ours = PatchSolver(n_coarse, n_sub, ell, backend="condensed").full_local_matrices(a)
    assert worst_relative(petsc, ours) < 1e-12


def test_condensed_correctors_and_masked_matrices_match_petsc():
    n_coarse, n_sub, ell = 5, 3, 2
    a = backend_coefficient("lognormal", n_coarse * n_sub, seed=3)
    petsc_s, petsc_q = PatchSolver(n_coarse, n_sub, ell).local_matrices_and_correctors(a)
    ours = PatchSolver(n_coarse, n_sub, ell, backend="condensed")
    our_s, our_q = ours.local_matrices_and_correctors(a)
    assert worst_relative(petsc_s, our_s) < 1e-12
    assert np.abs(petsc_q - our_q).max() < 1e-12 * np.abs(petsc_q).max()
    assert np.array_equal(petsc_s == 0, our_s == 0)  # rows and columns outside D exactly 0


def test_condensed_pglod_solution_and_batches():
    n_coarse, n_sub, ell = 6, 4, 2
    a = backend_coefficient("channels", n_coarse * n_sub, seed=4)
    petsc = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="sine")
    with PatchSolver(n_coarse, n_sub, ell, backend="condensed") as ps:
        ours = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="sine", patch_solver=ps)
    assert np.abs(ours.u_coarse - petsc.u_coarse).max() < 1e-12 * np.abs(petsc.u_coarse).max()
    for res in (petsc, ours):
        for obj in (res.matrix, res.load, res.solution):
            obj.destroy()
    # A batch of a few patches condenses each of its coarse elements on its own: same result.
    whole = PatchSolver(n_coarse, n_sub, ell, backend="condensed").local_matrices(a)
    small = PatchSolver(n_coarse, n_sub, ell, backend="condensed", batch_size=5).local_matrices(a)
    assert np.abs(whole - small).max() < 1e-13 * np.abs(whole).max()


def test_condensed_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="2-D only"):
        PatchSolver(2, 2, 1, backend="condensed", dim=3)
    with pytest.raises(ValueError, match="ell >= 1"):
        PatchSolver(4, 2, 0, backend="condensed")
    bad = np.ones((8, 8))
    bad[1, 2] = -1.0
    with pytest.raises(
        ValueError, match=r"non-positive value\(s\); first at \[iy, ix\] = \[1, 2\]"
    ):
        PatchSolver(4, 2, 1, backend="condensed").local_matrices(bad)


@pytest.mark.mpi
def test_condensed_pglod_on_two_ranks_equals_one_rank():
    assert MPI.COMM_WORLD.size == 2
    n_coarse, n_sub, ell = 6, 4, 2
    a = backend_coefficient("lognormal", n_coarse * n_sub, seed=7)
    out = []
    for comm in (MPI.COMM_SELF, MPI.COMM_WORLD):
        with PatchSolver(n_coarse, n_sub, ell, backend="condensed") as ps:
            res = pglod_solve(comm, a, n_coarse, n_sub, ell, rhs="sine", patch_solver=ps)
        out.append(res.u_coarse)
        for obj in (res.matrix, res.load, res.solution):
            obj.destroy()
    assert np.abs(out[0] - out[1]).max() < 1e-13 * np.abs(out[0]).max()
