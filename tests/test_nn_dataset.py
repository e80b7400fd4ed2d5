"""Dataset generation: layout, resume after a crash, refusal of another configuration, MPI."""

import json
import os

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from helpers import run_without_fenics

import lod_fenicsx.corrector  # noqa: F401  (PETSc initialises collectively: on every rank, first)

from plumbing.cli import CollectiveError
from nn_compress.dataset import GenerationConfig, default_local_matrices_fn, generate, read_split
from nn_compress.fields import sample

CFG = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "lognormal-low": 10})


def _generate(path, comm=MPI.COMM_SELF, cfg=CFG):
    # The real coefficient families and PatchSolver, on a tiny discretization.
    return generate(comm, cfg, path, progress=False)


def test_layout_split_and_flags(tmp_path):
    path = tmp_path / "d.h5"
    out = _generate(path)
    assert out["computed"] == 20
    with h5py.File(path, "r") as f:
        assert f["fields"].shape == (20, 8, 8)
        assert f["local_matrices"].shape == (20, 16, 64)
        assert "coefficients" in f  # lognormal input g differs from A
        assert f["done"][:].sum() == 20
        np.testing.assert_array_equal(f["split"][:10], [0] * 8 + [1, 2])
        s = sample("lognormal-low", 3, CFG.base_seed, 8)
        a, g = s.coefficient, s.network_input
        assert not np.array_equal(a, g)
        np.testing.assert_array_equal(f["fields"][13], g)
        np.testing.assert_array_equal(f["coefficients"][13], a)
        assert "petsc4py" in f.attrs["versions"] and len(f.attrs["git_commit"]) >= 7
    fields, mats, gids = read_split(path, "val")
    np.testing.assert_array_equal(gids, [8, 18])
    # Rerunning a complete file computes nothing.
    assert _generate(path)["computed"] == 0


def test_resume_after_lost_samples_equals_uninterrupted(tmp_path):
    ref, path = tmp_path / "ref.h5", tmp_path / "d.h5"
    _generate(ref)
    _generate(path)
    with h5py.File(path, "r+") as f:  # as if these had never been finished
        for gid in (2, 11, 19):
            f["done"][gid] = 0
            f["local_matrices"][gid] = np.nan
    assert _generate(path)["computed"] == 3
    with h5py.File(path, "r") as f, h5py.File(ref, "r") as g:
        np.testing.assert_array_equal(f["local_matrices"][:], g["local_matrices"][:])
        np.testing.assert_array_equal(f["fields"][:], g["fields"][:])


def test_half_written_file_resumes_to_the_uninterrupted_one(tmp_path):
    """A file as a crash leaves it: 0..11 done, 12 with fields but no matrices, 13.. unwritten."""
    ref, path = tmp_path / "ref.h5", tmp_path / "d.h5"
    _generate(ref)
    path.write_bytes(ref.read_bytes())
    with h5py.File(path, "r+") as f:
        f["done"][12:] = 0
        f["local_matrices"][12:] = np.nan
        f["fields"][13:] = 0.0
        f["coefficients"][13:] = 0.0
    with pytest.raises(ValueError, match="not done"):
        read_split(path, "train")
    assert _generate(path)["computed"] == 8
    with h5py.File(path, "r") as f, h5py.File(ref, "r") as g:
        for name in ("local_matrices", "fields", "coefficients", "done"):
            np.testing.assert_array_equal(f[name][:], g[name][:])


def test_two_files_made_with_the_same_settings_in_one_second_differ(tmp_path):
    """A network trained on one file refuses to resume on a file made anew (issue 12): the
    fingerprint carries a random file id, since two generations can share created_utc."""
    from nn_compress.training import dataset_identity

    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    _generate(first)
    _generate(second)
    with h5py.File(first, "r") as f:
        created = f.attrs["created_utc"]
    with h5py.File(second, "r+") as f:  # the same second, forced
        f.attrs["created_utc"] = created
    assert dataset_identity(first) == dataset_identity(first)
    assert dataset_identity(first) != dataset_identity(second)


def test_refuses_a_file_with_another_configuration(tmp_path):
    path = tmp_path / "d.h5"
    _generate(path)
    other = GenerationConfig(
        n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "lognormal-low": 12}, base_seed=5
    )
    with pytest.raises(ValueError, match=r"differing keys: base_seed .*families\.lognormal-low"):
        _generate(path, cfg=other)


@pytest.mark.mpi
def test_two_ranks_equal_one_rank(tmp_path_factory):
    comm = MPI.COMM_WORLD
    assert comm.size == 2
    tmp = comm.bcast(str(tmp_path_factory.mktemp("gen")) if comm.rank == 0 else None)
    one, two = os.path.join(tmp, "one.h5"), os.path.join(tmp, "two.h5")
    if comm.rank == 0:
        _generate(one)
    comm.barrier()
    _generate(two, comm=comm)
    if comm.rank == 0:
        with h5py.File(one, "r") as f, h5py.File(two, "r") as g:
            np.testing.assert_array_equal(f["fields"][:], g["fields"][:])
            np.testing.assert_allclose(
                f["local_matrices"][:], g["local_matrices"][:], rtol=1e-12, atol=1e-14
            )
            assert g["done"][:].sum() == 20
    comm.barrier()


def test_a_failing_sample_is_reported_and_the_rest_kept(tmp_path):
    path = tmp_path / "d.h5"

    def flaky(family, index, base_seed, n_fine):
        if family == "A1" and index == 4:
            raise ValueError("coefficient not positive")
        s = sample(family, index, base_seed, n_fine)
        return s.coefficient, s.network_input

    with pytest.raises(
        ValueError, match=r"sample 4 \(A1 #4\) failed: ValueError: coefficient not positive"
    ):
        generate(MPI.COMM_SELF, CFG, path, sample_fn=flaky, progress=False)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(np.flatnonzero(f["done"][:] == 0), np.arange(4, 20))
    assert _generate(path)["computed"] == 16


def test_read_split_filters_families_and_counts(tmp_path):
    path = tmp_path / "d.h5"
    _generate(path)
    fields, mats, gids = read_split(
        path, "train", families=["lognormal-low"], max_per_family=3, dtype=np.float32
    )
    np.testing.assert_array_equal(gids, [10, 11, 12])
    assert fields.dtype == np.float32 and mats.shape == (3, 16, 64)
    with pytest.raises(ValueError, match=r"families \['A9'\] not in the file"):
        read_split(path, "test", families=["A9"])


def test_torch_backend_writes_the_same_dataset(tmp_path):
    """Same fields bit for bit, same labels to round-off, same flags and splits."""
    _generate(tmp_path / "petsc.h5")
    generate(
        MPI.COMM_SELF,
        CFG,
        tmp_path / "torch.h5",
        progress=False,
        backend="torch",
        backend_options={"device": "cpu"},
    )
    with h5py.File(tmp_path / "petsc.h5", "r") as f, h5py.File(tmp_path / "torch.h5", "r") as g:
        np.testing.assert_array_equal(f["fields"][:], g["fields"][:])
        np.testing.assert_array_equal(f["done"][:], g["done"][:])
        np.testing.assert_array_equal(f["split"][:], g["split"][:])
        a, b = f["local_matrices"][:], g["local_matrices"][:]
        assert np.abs(a - b).max() < 1e-12 * np.abs(a).max()
        # each file names the backend that computed it (provenance: the labels agree)
        assert [json.loads(h.attrs["backends"]) for h in (f, g)] == [["petsc"], ["torch"]]


def test_generate_cli_without_dolfinx_petsc_or_mpi(tmp_path):
    """`demos/generate.py --backend torch` in a process where only torch/NumPy/SciPy/h5py exist."""
    code = f"""
        import runpy
        sys.argv = ["generate.py", "--preset", "small", "--samples-per-family", "2",
                    "--backend", "torch", "--device", "cpu", "--output", {str(tmp_path / "g.h5")!r}]
        runpy.run_path("demos/generate.py", run_name="__main__")
    """
    run = run_without_fenics(code)
    assert run.returncode == 0, run.stderr
    assert "torch backend" in run.stdout and "20 sample(s) computed" in run.stdout
    with h5py.File(tmp_path / "g.h5", "r") as f:
        assert f["done"][:].sum() == 20 and f["local_matrices"].shape == (20, 64, 144)
        assert np.isfinite(f["local_matrices"][:]).all()
    # Without petsc4py the default backend says what to do instead of a traceback.
    run = run_without_fenics(code.replace('"--backend", "torch",', ""))
    assert run.returncode == 2 and "use the torch backend" in run.stderr
    assert "Traceback" not in run.stderr


def test_presets_that_share_samples_are_detected():
    """The reduced/small sets' test samples are training samples of the full/large sets."""
    from nn_compress.dataset import presets, shared_training_samples

    p = presets()
    assert shared_training_samples(p["paper000"], p["paper000-reduced"]) == 20  # 2 per family
    assert shared_training_samples(p["paper000-reduced"], p["paper000"]) == 0
    assert shared_training_samples(p["paper004-low-large"], p["paper004-low-small"]) == 30
    assert shared_training_samples(p["paper000"], p["paper004-low-small"]) == 0


def test_samples_reused_from_a_larger_file_equal_computed_ones(tmp_path):
    """A small set is the first samples of a large one (paper 004, Table 1): copied, not
    computed, bit for bit, with the donor's finishing times; a partly done donor gives what it
    has and the rest is computed."""
    small = GenerationConfig(4, 2, 1, {"lognormal-low": 5, "A1": 3})
    large = GenerationConfig(4, 2, 1, {"A1": 6, "lognormal-low": 10})
    donor, ref, path = tmp_path / "large.h5", tmp_path / "ref.h5", tmp_path / "small.h5"
    _generate(donor, cfg=large)
    with h5py.File(donor, "r+") as f:  # lognormal-low #3 (gid 6 + 3) not done in the donor
        f["done"][9] = 0
        donor_times = f["done_time"][:]
    _generate(ref, cfg=small)
    out = generate(MPI.COMM_SELF, small, path, progress=False, reuse=[donor])
    assert (out["computed"], out["reused"]) == (1, 7)
    with h5py.File(path, "r") as f, h5py.File(ref, "r") as g:
        for name in ("fields", "coefficients", "local_matrices", "done"):
            np.testing.assert_array_equal(f[name][:], g[name][:])
        np.testing.assert_array_equal(
            f["done_time"][[0, 1, 2, 4, 5, 6, 7]], donor_times[[6, 7, 8, 10, 0, 1, 2]]
        )
        assert json.loads(f.attrs["reused"]) == {str(donor): 7}
        assert json.loads(f.attrs["backends"]) == ["petsc"]  # the donor's and its own
    # A lender that records none (a file from before) adds none; a caller's function is "custom".
    with h5py.File(donor, "r+") as f:
        del f.attrs["backends"]
        f["done"][9] = 0
    fn = default_local_matrices_fn(small)  # passed in: the file cannot tell it is the default
    generate(MPI.COMM_SELF, small, tmp_path / "again.h5", progress=False, reuse=[donor],
             local_matrices_fn=fn)  # fmt: skip
    with h5py.File(tmp_path / "again.h5", "r") as f:
        assert json.loads(f.attrs["backends"]) == ["custom"]


def test_reuse_refuses_a_file_of_another_discretization(tmp_path):
    other, path = tmp_path / "other.h5", tmp_path / "d.h5"
    _generate(other, cfg=GenerationConfig(4, 2, 2, {"A1": 2}))
    with pytest.raises(CollectiveError, match=r"other\.h5.*ell \(file: 2, requested: 1\)"):
        generate(MPI.COMM_SELF, CFG, path, progress=False, reuse=[other])
    assert not path.exists()
    with pytest.raises(CollectiveError, match=r"missing\.h5"):
        generate(MPI.COMM_SELF, CFG, path, progress=False, reuse=[tmp_path / "missing.h5"])
    assert not path.exists()


def test_generate_cli_reuses_samples_and_refuses_a_foreign_lender(tmp_path):
    big, small = tmp_path / "big.h5", tmp_path / "small.h5"
    code = """
        import runpy
        sys.argv = ["generate.py", "--preset", "small", "--backend", "torch", "--device", "cpu",
                    *ARGS]
        runpy.run_path("demos/generate.py", run_name="__main__")
    """
    args = ["--samples-per-family", "2", "--output", str(big)]
    assert run_without_fenics(code.replace("*ARGS", repr(args)[1:-1])).returncode == 0
    args = ["--samples-per-family", "1", "--output", str(small), "--reuse", str(big)]
    run = run_without_fenics(code.replace("*ARGS", repr(args)[1:-1]))
    assert run.returncode == 0, run.stderr
    assert "10 sample(s) copied" in run.stdout and "nothing to do" in run.stdout
    args = ["--base-seed", "3", "--output", str(tmp_path / "x.h5"), "--reuse", str(big)]
    run = run_without_fenics(code.replace("*ARGS", repr(args)[1:-1]))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "base_seed" in run.stderr
    assert not (tmp_path / "x.h5").exists()
