"""Errors under MPI (issue 34, item 2): an error that every rank meets alike (a bad argument, a
bad file that every rank reads) is printed once, by rank 0, and every rank exits 2 without MPI's
abort banner; an error on one rank only still ends all ranks within seconds, naming the rank.

Each entry point that reads a file runs under ``mpirun -n 2`` with a damaged one (started from
the serial pass: these tests start mpirun themselves); the agreement itself
(``plumbing.cli.collective``) is tested in-process on 2 ranks (``mpi`` marks)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from mpi4py import MPI

from plumbing import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
BANNERS = ("MPI_ABORT", "MPI_Abort", "application called")
starts_mpirun = pytest.mark.skipif(
    MPI.COMM_WORLD.size > 1, reason="starts mpirun itself: run it from the serial pass"
)


def _clean_env(**extra):
    """The environment without the MPI singleton variables of this (pytest) process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_", "OMPI_MCA_orte"))
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


def _mpirun(*args, timeout=120):
    t0 = time.perf_counter()
    done = subprocess.run(
        ["mpirun", "-n", "2", sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=_clean_env(),
        cwd=ROOT,
    )
    return done, time.perf_counter() - t0


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r"\berror\b", line)]


def _once(done, *fragments):
    """Status 2 on the whole run, exactly one error line (rank 0's), no abort, no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    lines = _error_lines(done.stderr)
    assert len(lines) == 1, output
    assert not any(banner in output for banner in BANNERS), output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- damaged files ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A network folder with a truncated shard, random bytes as a .npy coefficient, a text file
    where an HDF5 dataset should be."""
    folder = tmp_path_factory.mktemp("bad")
    shard = folder / "shard"
    shard.mkdir()
    shipped = ROOT / "networks" / "paper000-plain"
    shutil.copy(shipped / "network.json", shard / "network.json")
    (shard / "network-00.pt").write_bytes((shipped / "network-00.pt").read_bytes()[:5000])
    networks = folder / "networks"  # what paper004_experiments --networks looks for
    shutil.copytree(shard, networks / "paper004-low-reduced")
    (folder / "coef.npy").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "text.h5").write_text("not a dataset\n")
    (folder / "samples").mkdir()
    (folder / "samples" / "samples.jsonl").write_text("{truncated\n")
    return folder


ENTRY_POINTS = {
    # entry point: (its arguments, {bad}: the damaged files' folder, {tmp}: a fresh folder;
    # fragments of the one error line)
    "solve": (
        "-m lod_fenicsx solve --coefficient {bad}/coef.npy --n-coarse 4 --n-sub 2 --ell 1 "
        "--out {tmp}/r.h5",
        ["coef.npy"],
    ),
    "generate": (
        "demos/generate.py --samples-per-family 1 --no-progress --output {bad}/text.h5",
        ["text.h5"],
    ),
    "train": (
        "demos/train.py --dataset {bad}/text.h5 --checkpoint-dir {tmp}/c --schedule 0:1e-3 "
        "--epochs 1",
        ["train runs in one process", "without mpirun"],
    ),
    "paper000_experiments": (
        "demos/paper000_experiments.py --checkpoint {bad}/shard --out {tmp}/o --statistics 0",
        ["network-00.pt is not a readable checkpoint"],
    ),
    "paper004_experiments --base-network": (
        "demos/paper004_experiments.py --base-network {bad}/shard --experiments 1 --out {tmp}/o",
        ["--base-network", "network-00.pt is not a readable checkpoint"],
    ),
    "paper004_experiments --networks": (
        "demos/paper004_experiments.py --networks {bad}/networks --experiments 1 --out {tmp}/o",
        ["--networks", "network-00.pt is not a readable checkpoint"],
    ),
    "nnlod_3d": (
        "demos/nnlod_3d.py --preset lod3d-tiny --checkpoint {bad}/shard --out {tmp}/o",
        ["network-00.pt is not a readable checkpoint"],
    ),
    "rev_upscaling": (  # reads nothing: its output folder is below a file
        "demos/rev_upscaling.py --preset quick --output-dir {bad}/text.h5/out",
        ["cannot write the output folder"],
    ),
    "upscaled_permeability": (
        "demos/upscaled_permeability.py --out {bad}/samples",
        ["upscaled_permeability.py runs in one process"],
    ),
    "hybrid_pinn_1d": (
        "demos/hybrid_pinn_1d.py --checkpoint-root {bad}/text.h5",
        ["hybrid_pinn_1d runs in one process"],
    ),
    "nnlod_gpu": (
        "demos/nnlod_gpu.py --init-from {bad}/shard --out {tmp}/o --device cpu",
        ["nnlod_gpu runs in one process"],
    ),
}


@starts_mpirun
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_bad_file_on_every_rank_is_one_line_from_rank_0(entry, files, tmp_path):
    arguments, fragments = ENTRY_POINTS[entry]
    done, seconds = _mpirun(*arguments.format(bad=files, tmp=tmp_path).split())
    _once(done, *fragments)
    assert seconds < 60


@starts_mpirun
def test_a_bad_argument_is_printed_once_with_one_usage():
    done, _ = _mpirun("demos/generate.py", "--samples-per-family", "0")
    _once(done, "--samples-per-family 0: must be at least 1")
    assert done.stderr.count("usage:") == 1, done.stderr


# -- errors on some ranks only ---------------------------------------------------------------------
@starts_mpirun
def test_an_error_on_one_rank_ends_every_rank_and_names_it():
    """Rank 1 fails alone while rank 0 waits in a barrier: MPI_Abort ends both (kept: a rank
    that fails outside a collective phase cannot tell the others)."""
    done, seconds = _mpirun(ROOT / "tests" / "mpi_rank_fails.py", "alone", timeout=60)
    assert done.returncode != 0 and seconds < 45, done.stderr
    lines = _error_lines(done.stderr)
    assert lines == ["mpi_rank_fails: error on rank 1 of 2: the input of rank 1 is unreadable"]


@starts_mpirun
def test_an_error_on_one_rank_inside_a_collective_phase_is_one_line_without_abort():
    done, seconds = _mpirun(ROOT / "tests" / "mpi_rank_fails.py", "phase", timeout=60)
    _once(done, "error on rank 1 of 2: the input of rank 1 is unreadable")
    assert seconds < 45


@starts_mpirun
def test_a_bug_on_one_rank_inside_a_collective_phase_keeps_its_traceback_and_ends_all():
    done, seconds = _mpirun(ROOT / "tests" / "mpi_rank_fails.py", "bug", timeout=60)
    assert done.returncode != 0 and seconds < 45, done.stderr
    assert "Traceback" in done.stderr and "KeyError: 'a bug on rank 1'" in done.stderr


# -- the agreement, in-process on 2 ranks --------------------------------------------------------
@pytest.mark.mpi
def test_collective_gives_rank_0s_message_when_every_rank_fails():
    comm = MPI.COMM_WORLD
    assert comm.size == 2
    with pytest.raises(cli.CollectiveError, match="^bad input on rank 0$") as error:
        with cli.collective(comm):
            raise OSError(f"bad input on rank {comm.rank}")
    assert error.value.ranks is None


@pytest.mark.mpi
def test_collective_names_the_ranks_that_failed():
    comm = MPI.COMM_WORLD
    with pytest.raises(cli.CollectiveError, match="^bad input on rank 1$") as error:
        with cli.collective(comm):
            if comm.rank == 1:
                raise ValueError("bad input on rank 1")
    assert error.value.ranks == (1,)


@pytest.mark.mpi
def test_collective_lets_the_ranks_go_on_when_none_failed():
    comm = MPI.COMM_WORLD
    with cli.collective(comm):
        value = comm.rank + 1
    assert value == comm.rank + 1 and comm.allreduce(value) == 3


# -- serially ------------------------------------------------------------------------------------
class _TwoRanks:
    rank, size = 0, 2


def test_run_prints_the_failing_ranks_of_a_collective_error(capsys):
    def main(argv):
        raise cli.CollectiveError("bad input", ranks=[1])

    assert cli.run("prog", main, [], comm=_TwoRanks()) == 2
    assert capsys.readouterr().err == "prog: error on rank 1 of 2: bad input\n"


def test_collective_changes_nothing_in_one_process():
    for comm in (None, MPI.COMM_SELF):
        with pytest.raises(ValueError, match="bad") as error:
            with cli.collective(comm):
                raise ValueError("bad")
        assert type(error.value) is ValueError
