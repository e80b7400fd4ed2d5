"""Two runs, one folder (issue 34, item 3): a training holds its checkpoint folder for the whole
run, as the generator holds its file; a second run on the same folder is refused in one line
that names the folder and the other process, and touches none of its files. A run killed with
SIGKILL leaves no lock behind, and temporary files are unique per process."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from helpers import load_demo
from mpi4py import MPI

from plumbing.checkpoint import load_checkpoint
from plumbing.cli import run
from nn_compress.dataset import GenerationConfig, generate
from nn_compress.training import TrainConfig, train

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "A2": 10})

# A training that resumes after its first epoch and then sleeps inside the second one, holding
# its folder, until it is killed.
HOLDER = """
import sys, time
from nn_compress.training import TrainConfig, train

def stop(step):
    if step > 4:  # 4 Adam steps per epoch: inside epoch 2
        print("holding", flush=True)
        time.sleep(300)
    return False

cfg = TrainConfig(dataset=sys.argv[1], checkpoint_dir=sys.argv[2], epochs=3, batch_size=64,
                  schedule=((0, 1e-3),), threads=1)
train(cfg, log=lambda *a: None, stop=stop)
"""


def _clean_env():
    """The environment without the MPI singleton variables of this (pytest) process."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_", "OMPI_MCA_orte"))
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("exclusive") / "tiny.h5"
    generate(MPI.COMM_SELF, TINY, path, progress=False)
    return path


def _cfg(dataset, folder, epochs):
    return TrainConfig(
        dataset=str(dataset),
        checkpoint_dir=str(folder),
        epochs=epochs,
        batch_size=64,
        schedule=((0, 1e-3),),
        threads=1,
    )


def _snapshot(folder: pathlib.Path) -> dict:
    """Every file of ``folder`` with its bytes and modification time."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture
def holder(dataset, tmp_path):
    """A training of ``tmp_path/ckpt`` that has finished epoch 1 and holds the folder."""
    folder = tmp_path / "ckpt"
    train(_cfg(dataset, folder, 1), log=lambda *a: None)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(dataset), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "holding", proc.stderr.read() if proc.poll() is not None else line
        yield proc, folder
    finally:
        proc.kill()
        proc.wait()


def test_a_second_training_on_a_held_folder_is_refused_and_touches_nothing(dataset, holder):
    proc, folder = holder
    before = _snapshot(folder)
    with pytest.raises(ValueError) as info:
        train(_cfg(dataset, folder, 3), log=lambda *a: None)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message and f"PID {proc.pid}" in message
    assert _snapshot(folder) == before
    assert proc.poll() is None  # the first run goes on


def test_train_py_refuses_a_held_folder_in_one_line(dataset, holder, capsys):
    proc, folder = holder
    before = _snapshot(folder)
    args = ["--dataset", str(dataset), "--checkpoint-dir", str(folder)]
    args += ["--schedule", "0:1e-3", "--epochs", "3", "--batch-size", "64"]
    assert run("train", load_demo("train").main, args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and lines[0].startswith("train: error: ") and "Traceback" not in err
    assert str(folder) in lines[0] and f"PID {proc.pid}" in lines[0]
    assert _snapshot(folder) == before


def test_a_killed_training_does_not_block_the_rerun(dataset, holder):
    proc, folder = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    history = train(_cfg(dataset, folder, 2), log=lambda *a: None)  # resumes after epoch 1
    assert history["epoch"] == [1, 2]
    assert load_checkpoint(folder / "last.pt")["epoch"] == 1


SAVER = """
import sys, time
import torch
from plumbing.checkpoint import save_atomic

print("ready", flush=True)
sys.stdin.readline()
end = time.monotonic() + 2.0
while time.monotonic() < end:
    save_atomic({"w": torch.full((50000,), float(sys.argv[2]))}, sys.argv[1])
"""


def test_two_processes_saving_one_checkpoint_never_share_a_temporary_file(tmp_path):
    """Both write last.pt over and over for two seconds at the same time: neither fails, and the
    file holds one of the two whole."""
    path = tmp_path / "last.pt"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(value)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_clean_env(),
            cwd=ROOT,
        )
        for value in (1, 2)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in results]
    w = load_checkpoint(path)["w"]
    assert w.shape == (50000,) and float(w.min()) == float(w.max()) in (1.0, 2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def _add_rows(path, prefix, count):
    from plumbing.checkpoint import update_json

    for i in range(count):
        update_json(path, f"{prefix}{i}", {"i": i})


def test_two_runs_adding_rows_to_one_results_file_lose_none(tmp_path):
    """Two experiment runs (one per core) write their rows into one table.json."""
    import multiprocessing

    from plumbing.checkpoint import update_json

    path = tmp_path / "table.json"
    ctx = multiprocessing.get_context("fork")
    runs = [ctx.Process(target=_add_rows, args=(path, p, 40)) for p in ("a", "b")]
    for r in runs:
        r.start()
    for r in runs:
        r.join(60)
    assert [r.exitcode for r in runs] == [0, 0]
    table = json.loads(path.read_text())
    assert len(table) == 80 and table["b39"] == {"i": 39}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.json", "table.json.lock"]
    path.write_bytes(b"\xff\xfe[1, 2]")
    with pytest.raises(ValueError, match=r"table.json is not a readable results table \("):
        update_json(path, "c", 1)


# -- the hybrid PINN trainer -----------------------------------------------------------------------
# A hybrid PINN run (Table 1's eps = 1/16 Ms-PINN, one seed, the closed-form coarse solver) that
# checkpoints every iteration and, once its first checkpoint is written, sleeps inside its second
# log entry, holding its folder, until it is killed.
HYBRID_HOLDER = """
import sys, time
from hybrid_pinn.training import Trainer, paper_config

config = paper_config(16, "pinn", seeds=(0,), iterations=1000, log_every=1, checkpoint_every=1,
                      checkpoint_dir=sys.argv[1], solver="scipy")

def hold(trainer, entry):
    if entry["iteration"] == 2:  # last.pt of iteration 1 is written
        print("holding", flush=True)
        time.sleep(300)

Trainer.resume_or_start(config).train(callback=hold)
"""


@pytest.fixture
def hybrid_holder(tmp_path):
    """A hybrid PINN run of ``tmp_path/ckpt/eps16_pinn_fourier_s0`` that holds its folder."""
    folder = tmp_path / "ckpt" / "eps16_pinn_fourier_s0"
    proc = subprocess.Popen(
        [sys.executable, "-c", HYBRID_HOLDER, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "holding", proc.stderr.read() if proc.poll() is not None else line
        assert (folder / "last.pt").exists()
        yield proc, folder
    finally:
        proc.kill()
        proc.wait()


def test_a_second_hybrid_training_on_a_held_folder_is_refused_and_touches_nothing(hybrid_holder):
    from hybrid_pinn.training import Trainer, paper_config

    proc, folder = hybrid_holder
    before = _snapshot(folder)
    config = paper_config(
        16, "pinn", seeds=(0,), iterations=4, log_every=1, checkpoint_every=1,
        checkpoint_dir=str(folder), solver="scipy",
    )  # fmt: skip
    with pytest.raises(ValueError) as info:
        Trainer.resume_or_start(config).train()
    message = str(info.value)
    assert "\n" not in message and str(folder) in message and f"PID {proc.pid}" in message
    assert _snapshot(folder) == before
    assert proc.poll() is None  # the first run goes on


def test_hybrid_pinn_1d_refuses_a_held_run_folder_in_one_line_before_any_output(
    hybrid_holder, tmp_path, capsys
):
    proc, folder = hybrid_holder
    before = _snapshot(folder)
    args = ["--preset", "quick", "--eps", "16", "--seeds", "0", "--methods", "pinn"]
    args += ["--iterations", "2", "--skip-table-1", "--solver", "scipy"]
    args += ["--checkpoint-root", str(folder.parent), "--output-dir", str(tmp_path / "out")]
    assert run("hybrid_pinn_1d", load_demo("hybrid_pinn_1d").main, args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("hybrid_pinn_1d: error: ")
    assert str(folder) in lines[0] and f"PID {proc.pid}" in lines[0]
    assert "--checkpoint-root" in lines[0]
    assert _snapshot(folder) == before and not (tmp_path / "out").exists()
    assert proc.poll() is None


def test_a_killed_hybrid_training_does_not_block_the_rerun(hybrid_holder):
    from hybrid_pinn.runs import train_run

    proc, folder = hybrid_holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    trainer = train_run(
        16, "pinn", "fourier", (0,), 3, {}, checkpoint_root=str(folder.parent), log_every=1,
        solver="scipy",
    )  # fmt: skip
    assert trainer.iteration == 3 and trainer.history[0]["iteration"] == 1  # resumed after 1
    assert load_checkpoint(folder / "last.pt")["iteration"] == 3


# -- demos/train.py --export ---------------------------------------------------------------------
EXPORT_HOLDER = """
import sys, time
from plumbing.checkpoint import exclusive_folder

with exclusive_folder(sys.argv[1], "export folder", "--export"):
    print("holding", flush=True)
    time.sleep(300)
"""


def test_train_py_refuses_an_export_folder_another_run_holds(dataset, tmp_path, capsys):
    """Two exports into one folder would mix their shards and cards."""
    export = tmp_path / "export"
    export.mkdir()
    (export / "network.json").write_text('{"from": "the other run"}')
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORT_HOLDER, str(export)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
        cwd=ROOT,
    )
    try:
        assert proc.stdout.readline().strip() == "holding", proc.stderr.read()
        before = _snapshot(export)
        args = ["--dataset", str(dataset), "--checkpoint-dir", str(tmp_path / "ckpt")]
        args += ["--schedule", "0:1e-3", "--epochs", "1", "--batch-size", "64"]
        args += ["--export", str(export)]
        assert run("train", load_demo("train").main, args) == 2
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "error" in line]
        assert len(lines) == 1 and lines[0].startswith("train: error: ") and "Traceback" not in err
        assert "export folder" in lines[0] and str(export) in lines[0]
        assert f"PID {proc.pid}" in lines[0] and "--export" in lines[0]
        assert _snapshot(export) == before
        assert not (tmp_path / "ckpt" / "last.pt").exists()
    finally:
        proc.kill()
        proc.wait()
