"""Faults under MPI: an unwritable output or a full disk ends every rank within seconds, with one
clear message and a non-zero status, and leaves no rank behind (issue: nothing hangs)."""

import os
import pathlib
import shlex
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _clean_env():
    """The environment without the MPI singleton variables of this (pytest) process."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_", "OMPI_MCA_orte"))
    }


def _generate_in(folder, mode, tmp_path):
    out = pathlib.Path(folder) / "d.h5"
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "fault_env.py"),
        str(folder),
        mode,
        "--",
        "mpirun",
        "-n",
        "2",
        sys.executable,
        str(ROOT / "demos" / "generate.py"),
        "--preset",
        "small",
        "--samples-per-family",
        "20",
        "--output",
        str(out),
        "--no-progress",
    ]
    t0 = time.perf_counter()
    run = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env=_clean_env(), cwd=ROOT
    )
    if run.returncode == 77:
        pytest.skip("mount namespaces are not permitted here")
    leftovers = subprocess.run(
        ["pgrep", "-f", str(out)], capture_output=True, text=True
    ).stdout.split()
    return run, time.perf_counter() - t0, leftovers


def test_read_only_output_ends_both_ranks(tmp_path):
    run, seconds, leftovers = _generate_in(tmp_path / "ro", "ro", tmp_path)
    assert run.returncode == 2, run.stderr
    assert "generate: error: cannot write the dataset file" in run.stderr
    assert "Read-only file system" in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.count("error") == 1  # one line, from rank 0
    assert seconds < 60 and not leftovers


def test_full_disk_ends_both_ranks_and_keeps_what_is_done(tmp_path):
    run, seconds, leftovers = _generate_in(tmp_path / "full", "1m", tmp_path)
    assert run.returncode == 2, run.stderr
    assert "failed" in run.stderr and "No space left on device" in run.stderr
    assert "rerun the same command to resume" in run.stderr and "Traceback" not in run.stderr
    assert seconds < 60 and not leftovers


def test_a_locked_dataset_names_the_likely_leftover_ranks(tmp_path):
    """What a SIGKILLed mpirun leaves: ranks that still hold the file. Never advice to delete it."""
    import h5py

    from plumbing.cli import run

    from nn_compress.dataset import GenerationConfig, SerialComm, generate

    cfg = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10})
    path = tmp_path / "d.h5"
    generate(SerialComm(), cfg, path, progress=False)
    with h5py.File(path, "r") as f:
        f["done"][...]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import h5py, time; f = h5py.File({str(path)!r}, 'r+'); "
            "print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(
            ValueError, match=r"locked by another process.*pgrep -af generate.py.*kept"
        ) as err:
            generate(SerialComm(), cfg, path, progress=False)
        assert "delete" not in str(err.value)
        assert run("generate", lambda a: generate(SerialComm(), cfg, path, progress=False), []) == 2
    finally:
        holder.kill()


def test_full_disk_while_training_saves_a_checkpoint_keeps_the_last_one(tmp_path):
    """The disk fills at epoch 2's checkpoint: one line naming the file and the reason (torch.save
    itself would raise 'unexpected pos ... vs ...'), and epoch 1's checkpoint kept whole."""
    from nn_compress.dataset import GenerationConfig, SerialComm, generate

    data = tmp_path / "d.h5"
    generate(SerialComm(), GenerationConfig(4, 2, 1, {"A1": 10}), data, progress=False)
    folder = tmp_path / "full"
    train = [sys.executable, str(ROOT / "demos" / "train.py"), "--dataset", str(data)]
    train += ["--checkpoint-dir", str(folder / "c"), "--schedule", "0:1e-3", "--epochs", "3"]
    check = (
        "from plumbing.checkpoint import load_checkpoint; "
        f"print('kept epoch', load_checkpoint({str(folder / 'c' / 'last.pt')!r})['epoch'])"
    )
    script = f"{shlex.join(train)} >/dev/null; echo rc $?; ls {folder / 'c'}; "
    script += shlex.join([sys.executable, "-c", check])
    # Epoch 1 leaves last.pt and best.pt (169 kB each) and the loss curves (33 kB): 450 kB hold
    # those, not epoch 2's last.pt beside them.
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fault_env.py"), str(folder), "450k", "--"]
        + ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        cwd=ROOT,
    )
    if run.returncode == 77:
        pytest.skip("mount namespaces are not permitted here")
    assert "rc 2" in run.stdout and "kept epoch 0" in run.stdout, run.stdout + run.stderr
    assert ".tmp" not in run.stdout and "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and lines[0].startswith("train: error: "), run.stderr
    assert "last.pt: No space left on device" in lines[0] and "rerun the same command" in lines[0]
