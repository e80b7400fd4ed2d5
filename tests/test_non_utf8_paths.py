"""File names that are not UTF-8 (issue 34, item 8): a byte such as 0xff in a path is a valid
Linux file name, which Python holds as a lone surrogate. The command lines read and write such
files; DOLFINx, whose start-up hands ``sys.argv`` to C++, gets them as U+FFFD; what a C++
library cannot take (DOLFINx's XDMF writer) is refused in one line before any work.

Each runs in its own process, where DOLFINx is first imported, with a strict standard output (a
UTF-8 locale such as en_US.UTF-8; here ``PYTHONIOENCODING=utf-8``), as a user's shell has it."""

import os
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from helpers import load_demo
from nn_compress.dataset import GenerationConfig, SerialComm, generate
from plumbing import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
FF = b"-\xff"  # not UTF-8: 0xff never occurs in it
starts_processes = pytest.mark.skipif(
    MPI.COMM_WORLD.size > 1, reason="starts processes of its own: run it from the serial pass"
)


def _env():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_", "OMPI_MCA_orte"))
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, "PYTHONIOENCODING": "utf-8"}


def _run(*args, timeout=300):
    """``args`` (bytes or str) in a fresh process from the repository root."""
    return subprocess.run(
        [os.fsencode(a) for a in args],
        capture_output=True,
        timeout=timeout,
        env=_env(),
        cwd=ROOT,
    )


def _text(done) -> str:
    return (done.stdout + done.stderr).decode("utf-8", "replace")


@pytest.fixture
def folder(tmp_path) -> bytes:
    return os.fsencode(tmp_path)


@pytest.fixture
def coefficient(folder) -> bytes:
    path = folder + b"/coef" + FF + b".npy"
    with open(path, "wb") as f:
        np.save(f, np.random.default_rng(0).uniform(1, 5, (8, 8)))
    return path


SOLVE_GRID = ["--n-coarse", "4", "--n-sub", "2", "--ell", "1"]


@starts_processes
@pytest.mark.parametrize("launcher", [[], ["mpirun", "-n", "2"]], ids=["serial", "mpirun"])
def test_solve_reads_and_writes_non_utf8_file_names(coefficient, folder, launcher):
    out = folder + b"/result" + FF + b".h5"
    done = _run(
        *launcher, sys.executable, "-m", "lod_fenicsx", "solve",
        "--coefficient", coefficient, *SOLVE_GRID, "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, _text(done)
    assert b"wrote " + out in done.stdout  # the name's own bytes, as ls shows them
    with h5py.File(out, "r") as f:
        assert f["u_coarse"].shape == (5, 5) and "u_fine" in f


@starts_processes
def test_solve_refuses_a_non_utf8_xdmf_folder_before_solving(coefficient, folder):
    out = folder + b"/result.h5"
    done = _run(
        sys.executable, "-m", "lod_fenicsx", "solve", "--coefficient", coefficient,
        *SOLVE_GRID, "--out", out, "--no-fine", "--xdmf", folder + b"/xdmf" + FF,
    )  # fmt: skip
    assert done.returncode == 2, _text(done)
    lines = [line for line in _text(done).splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in _text(done), _text(done)
    assert "the --xdmf folder" in lines[0] and "is not UTF-8" in lines[0]
    assert not os.path.exists(out)


@starts_processes
def test_generate_writes_a_non_utf8_dataset_file(folder):
    out = folder + b"/data" + FF + b".h5"
    done = _run(
        sys.executable, "demos/generate.py", "--samples-per-family", "1", "--no-progress",
        "--output", out,
    )  # fmt: skip
    assert done.returncode == 0, _text(done)
    with h5py.File(out, "r") as f:
        assert f["done"][...].all()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    generate(SerialComm(), GenerationConfig(4, 2, 1, {"A1": 10}), path, progress=False)
    return path


@starts_processes
def test_train_writes_non_utf8_checkpoint_and_export_folders(data, folder):
    checkpoints, export = folder + b"/checkpoints" + FF, folder + b"/export" + FF
    done = _run(
        sys.executable, "demos/train.py", "--dataset", str(data), "--checkpoint-dir",
        checkpoints, "--export", export, "--schedule", "0:1e-3", "--epochs", "1",
        "--batch-size", "64",
    )  # fmt: skip
    assert done.returncode == 0, _text(done)
    assert b"-> " + checkpoints in done.stdout
    for name in (b"/last.pt", b"/loss.png", b"/history.csv", b"/test_loss.json"):
        assert os.path.getsize(checkpoints + name) > 0, name
    assert os.path.exists(export + b"/network.json")


@starts_processes
def test_paper000_reads_a_non_utf8_network_file_and_names_it_in_its_table(data, tmp_path, folder):
    train = ["--dataset", str(data), "--checkpoint-dir", str(tmp_path / "net")]
    train += ["--schedule", "0:1e-3", "--epochs", "1", "--batch-size", "64"]
    assert cli.run("train", load_demo("train").main, train) == 0
    network = folder + b"/net" + FF + b"/last.pt"
    os.rename(folder + b"/net", folder + b"/net" + FF)
    done = _run(
        sys.executable, "demos/paper000_experiments.py", "--checkpoint", network,
        "--out", folder + b"/results", "--statistics", "0",
    )  # fmt: skip
    assert done.returncode == 0, _text(done)
    with open(folder + b"/results/table.md", "rb") as f:
        assert b"Network: `" + network + b"`" in f.read()


@starts_processes
def test_rev_upscaling_starts_dolfinx_with_a_non_utf8_output_folder(folder):
    """DOLFINx is imported after the arguments are made UTF-8 for it: the run reaches its own
    checks (here a refused quadrature degree) instead of a TypeError at start-up."""
    done = _run(
        sys.executable, "demos/rev_upscaling.py", "--preset", "quick", "--output-dir",
        folder + b"/out" + FF, "--quadrature-degree", "-1",
    )  # fmt: skip
    assert done.returncode == 2, _text(done)
    assert _text(done).strip() == "rev_upscaling: error: --quadrature-degree -1: must be at least 0"


def test_utf8_text_and_check_utf8():
    name = os.fsdecode(b"a" + FF)
    assert cli.utf8_text(name) == "a-\ufffd" and cli.utf8_text("a-é") == "a-é"
    cli.check_utf8("a-é/b", "folder", "X")
    with pytest.raises(ValueError, match="the folder 'a-\ufffd' is not UTF-8, which X needs"):
        cli.check_utf8(name, "folder", "X")
