"""The torch corrector backend against the PETSc one (paper 000, eqs. (3.5), (3.9))."""

import subprocess

import numpy as np
import pytest
import torch
from helpers import (
    backend_coefficient,
    run_without_fenics,
    solve_command,
    worst_relative,
)
from mpi4py import MPI

from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.pglod import pglod_solve


@pytest.mark.parametrize("ell", [1, 2, 3])
@pytest.mark.parametrize("n_sub", [2, 4, 8])
@pytest.mark.parametrize("kind", ["iid", "lognormal", "channels"])
def test_torch_matches_petsc_on_every_patch_type(n_sub, ell, kind):
    """Corner, edge, next-to-edge and interior patches: equal to 1e-10 relative.

    Seen: at most 3.4e-14.
    """
    n_coarse = 2 * ell + 3  # has interior patches for every ℓ
    a = backend_coefficient(kind, n_coarse * n_sub, seed=n_sub + 10 * ell)
    elements = np.array(
        [0, 1, ell, n_coarse + 1, (n_coarse // 2) * (n_coarse + 1), n_coarse**2 - 1]
    )
    petsc = PatchSolver(n_coarse, n_sub, ell).full_local_matrices(a, elements)
    torch_ = PatchSolver(n_coarse, n_sub, ell, backend="torch", device="cpu", batch_size=4)
    assert worst_relative(petsc, torch_.full_local_matrices(a, elements)) < 1e-10


def test_torch_correctors_and_masked_matrices_match_petsc():
    n_coarse, n_sub, ell = 5, 2, 2
    a = backend_coefficient("lognormal", n_coarse * n_sub, seed=3)
    petsc_s, petsc_q = PatchSolver(n_coarse, n_sub, ell).local_matrices_and_correctors(a)
    ours = PatchSolver(n_coarse, n_sub, ell, backend="torch", device="cpu")
    torch_s, torch_q = ours.local_matrices_and_correctors(a)
    assert worst_relative(petsc_s, torch_s) < 1e-10
    assert np.abs(petsc_q - torch_q).max() < 1e-10 * np.abs(petsc_q).max()
    # Padded rows and columns outside D are exactly zero, as in the PETSc backend.
    assert np.array_equal(petsc_s == 0, torch_s == 0)


def test_torch_pglod_solution_matches_petsc():
    n_coarse, n_sub, ell = 6, 2, 2
    a = backend_coefficient("iid", n_coarse * n_sub, seed=4)
    petsc = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="sine")
    with PatchSolver(n_coarse, n_sub, ell, backend="torch", device="cpu") as ps:
        ours = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="sine", patch_solver=ps)
    assert np.abs(ours.u_coarse - petsc.u_coarse).max() < 1e-12 * np.abs(petsc.u_coarse).max()
    for res in (petsc, ours):
        for obj in (res.matrix, res.load, res.solution):
            obj.destroy()


def test_batch_size_does_not_change_results():
    n_coarse, n_sub, ell = 5, 2, 1
    a = backend_coefficient("iid", n_coarse * n_sub, seed=5)
    one = PatchSolver(
        n_coarse, n_sub, ell, backend="torch", device="cpu", batch_size=1
    ).local_matrices(a)
    many = PatchSolver(
        n_coarse, n_sub, ell, backend="torch", device="cpu", batch_size=25
    ).local_matrices(a)
    assert np.abs(one - many).max() < 1e-13 * np.abs(one).max()


def test_torch_bad_input_gets_the_petsc_message():
    bad = np.ones((8, 8))
    bad[1, 2] = -1.0
    messages = []
    for backend in ("petsc", "torch"):
        with pytest.raises(
            ValueError, match=r"non-positive value\(s\); first at \[iy, ix\] = \[1, 2\]"
        ) as err:
            PatchSolver(4, 2, 1, backend=backend).local_matrices(bad)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    with pytest.raises(ValueError, match="backend must be one of"):
        PatchSolver(4, 2, 1, backend="cholmod")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_one_clear_error():
    with pytest.raises(ValueError, match="sees no CUDA GPU.*--device cpu"):
        PatchSolver(4, 2, 1, backend="torch", device="cuda")


def test_torch_backend_imports_without_dolfinx_and_petsc():
    """What the GPU machine has: torch, NumPy, SciPy (no DOLFINx, PETSc or petsc4py)."""
    run = run_without_fenics("""
        import numpy as np
        from lod_fenicsx.corrector import PatchSolver
        s = PatchSolver(4, 2, 1, backend="torch", device="cpu").local_matrices(np.ones((8, 8)))
        print(s.shape, float(abs(s).sum()))
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("(16, 16, 4)")


def test_cli_backend_torch_gives_the_same_u_h(tmp_path):
    import h5py

    n_coarse, n_sub, ell = 4, 2, 1
    np.save(tmp_path / "a.npy", backend_coefficient("iid", n_coarse * n_sub, seed=6))
    u = {}
    for backend in ("petsc", "torch"):
        out = tmp_path / f"{backend}.h5"
        cmd = solve_command(
            tmp_path / "a.npy",
            n_coarse,
            n_sub,
            ell,
            out,
            "--no-fine",
            "--backend",
            backend,
            "--device",
            "cpu",
        )
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        with h5py.File(out, "r") as f:
            u[backend] = f["u_coarse"][...]
            assert f.attrs["backend"] == backend
    assert np.abs(u["torch"] - u["petsc"]).max() < 1e-12 * np.abs(u["petsc"]).max()
