"""Long runs keep their state in $NH_STATE, and demos/status.py says where each one stands."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import DEMOS, SMALL_HYBRID, load_demo
from mpi4py import MPI

import lod_fenicsx.corrector  # noqa: F401  (PETSc initialised up front, as in the demos)
from hybrid_pinn.training import Trainer, TrainingConfig
from plumbing.checkpoint import state_path
from plumbing.cli import run
from nn_compress.dataset import GenerationConfig, generate, generation_progress
from nn_compress.pipeline import dataset_path
from nn_compress.training import training_progress

TINY = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "A2": 10})


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    return tmp_path / "state"


def test_generate_writes_into_the_state_folder_by_default(state):
    args = ["--preset", "small", "--samples-per-family", "1", "--no-progress"]
    assert run("generate", load_demo("generate").main, args) == 0
    progress = generation_progress(state / "data" / "small.h5")
    assert progress["done"] == progress["total"] == 10
    assert progress["rate"] > 0 and progress["last_done"] is not None


def test_work_seconds_leave_out_the_pauses_between_runs(tmp_path):
    """Core-hours of a dataset: the gaps between samples, but not a pause between sessions."""
    import h5py

    path = tmp_path / "d.h5"
    generate(MPI.COMM_SELF, TINY, path, progress=False)
    with h5py.File(path, "r+") as f:
        times = np.full(f["done_time"].shape, np.nan)
        times[:5] = [10.0, 12.0, 13.5, 5000.0, 5001.0]
        f["done_time"][:] = times
        done = np.zeros(f["done"].shape, dtype=f["done"].dtype)
        done[:5] = 1
        f["done"][:] = done
    p = generation_progress(path)
    assert (p["done"], p["total"], p["seconds"]) == (5, 20, 4.5)


def test_status_reports_a_dataset_a_training_and_a_hybrid_run(state, capsys):
    generate(MPI.COMM_SELF, TINY, dataset_path("tiny"), progress=False)
    args = ["--dataset", "tiny", "--schedule", "0:1e-3", "--epochs", "2", "--batch-size", "64"]
    assert run("train", load_demo("train").main, args) == 0
    progress = training_progress(state_path("checkpoints", "tiny"))
    # 16 training samples x 16 elements = 256 pairs: 4 steps of 64 per epoch
    assert (progress["steps"], progress["total_steps"], progress["epoch"]) == (8, 8, 2)
    assert progress["seconds_per_step"] > 0
    # Time left goes at the last epoch's rate, not the run's mean (a first epoch beside other work).
    from plumbing.checkpoint import load_checkpoint, save_atomic

    last = state_path("checkpoints", "tiny", "last.pt")
    ckpt = load_checkpoint(last)
    ckpt["history"]["seconds"] = [100.0, 2.0]
    save_atomic(ckpt, last)
    assert training_progress(state_path("checkpoints", "tiny"))["seconds_per_step"] == 0.5
    assert training_progress(state_path("checkpoints", "tiny"))["seconds"] == 102.0
    # A run the plateau rule ended before its cap is done, not 'left' at its cap's steps.
    config, val = dict(ckpt["config"]), list(ckpt["history"]["val_loss"])
    ckpt["config"] |= {"plateau": [1, 0.5], "epochs": 30}  # val 2nd epoch not 50 % lower: stop
    ckpt["history"]["val_loss"] = [1.0, 0.9]
    save_atomic(ckpt, last)
    stopped = training_progress(state_path("checkpoints", "tiny"))
    assert stopped["stopped_by_plateau"] and (stopped["steps"], stopped["total_steps"]) == (8, 8)
    ckpt["history"]["val_loss"] = [1.0, 0.4]  # still improving: 28 epochs of 4 steps left
    save_atomic(ckpt, last)
    going = training_progress(state_path("checkpoints", "tiny"))
    assert not going["stopped_by_plateau"] and going["total_steps"] == 120
    ckpt["config"], ckpt["history"]["val_loss"] = config, val
    save_atomic(ckpt, last)

    config = TrainingConfig(
        **SMALL_HYBRID,
        iterations=6,
        log_every=3,
        checkpoint_every=3,
        checkpoint_dir=str(state_path("checkpoints", "hybrid", "small-run")),
        seeds=(0, 1),
    )
    torch.manual_seed(0)
    Trainer(config).train(3)
    hybrid = Trainer.progress(str(state_path("checkpoints", "hybrid", "small-run", "last.pt")))
    assert (hybrid["iterations"], hybrid["planned"], len(hybrid["rel_l2"])) == (3, 6, 2)

    record = state.parent / "long_runs.md"
    assert run("status", load_demo("status").main, ["--write", str(record)]) == 0
    out = capsys.readouterr().out
    written = record.read_text()
    assert written.startswith("## ") and "load average" in written
    assert "| 1 | 4 | 1e-03 |" in written and "| 2 | 8 | 1e-03 |" in written
    assert "    hybrid   small-run: iteration 3/6" in written
    assert f"state: {state}" in out
    assert "dataset  tiny.h5: 20/20 samples" in out and "done" in out
    assert "training tiny: step 8/8 (epoch 2/2 done), epoch 2 losses train" in out
    # finished runs are neither running nor idle, however recently they wrote
    training = next(line for line in out.splitlines() if line.startswith("training tiny"))
    assert "done (last write 0:00:" in training and "running" not in training
    assert "hybrid   small-run: iteration 3/6, rel. L2 " in out and "left (running" in out


def test_hybrid_rate_is_that_of_the_machine_running_it_now(tmp_path):
    """A run continued on the CPU from a GPU checkpoint: its time left comes from the CPU part."""
    from plumbing.checkpoint import load_checkpoint, save_atomic

    config = TrainingConfig(
        **SMALL_HYBRID, iterations=8, log_every=2, checkpoint_every=2, checkpoint_dir=str(tmp_path)
    )
    Trainer(config).train(4)
    path = str(tmp_path / "last.pt")
    state = load_checkpoint(path)
    # As if iterations 0-2 ran on a GPU in 1 s and 2-4 here in 10 s.
    state["segments"] = [
        {"start": 0, "device": "cuda", "solver": "scipy"},
        {"start": 2, "device": "cpu", "solver": config.solver},
    ]
    state["history"][0]["wall_time"], state["history"][1]["wall_time"] = 1.0, 11.0
    state["wall_time"] = 11.0
    save_atomic(state, path)
    assert Trainer.progress(path)["seconds_per_iteration"] == pytest.approx(5.0)
    # One segment: the whole run's rate.
    del state["segments"][0]
    state["segments"][0]["start"] = 0
    save_atomic(state, path)
    assert Trainer.progress(path)["seconds_per_iteration"] == pytest.approx(11.0 / 4)


def test_status_of_an_empty_state_folder(state, capsys):
    assert run("status", load_demo("status").main, []) == 0
    assert "nothing yet" in capsys.readouterr().out


def test_train_structured_goes_to_its_own_folder_in_the_state(state):
    generate(MPI.COMM_SELF, TINY, dataset_path("tiny"), progress=False)
    args = ["--dataset", "tiny", "--schedule", "0:1e-3", "--epochs", "1", "--batch-size", "64"]
    assert run("train", load_demo("train").main, args + ["--structured"]) == 0
    ckpt = torch.load(state / "checkpoints" / "tiny-structured" / "last.pt", weights_only=True)
    assert ckpt["structured"] and ckpt["config"]["structured"]
    assert not (state / "checkpoints" / "tiny").exists()


# -- a state folder with damaged or foreign files (issue 34, item 5) ----------------------------
def _random(path):
    path.write_bytes(np.random.default_rng(1).bytes(4096))


def _foreign_h5(path):
    import h5py

    with h5py.File(path, "w") as f:
        f["x"] = [1.0, 2.0]


def _loop(path):
    path.symlink_to(path.name)


def _state_of(path):
    return next(folder for folder in path.parents if folder.name == "state")


def _half_of(source):
    def spoil(path):
        data = (_state_of(path) / source).read_bytes()
        path.write_bytes(data[: len(data) // 2])

    return spoil


def _copy_of(source):
    def spoil(path):
        path.write_bytes((_state_of(path) / source).read_bytes())

    return spoil


#: what goes wrong -> (the file in the state folder, how it is spoiled)
DAMAGES = {
    "empty dataset": ("data/empty.h5", lambda p: p.write_bytes(b"")),
    "random dataset": ("data/random.h5", _random),
    "csv dataset": ("data/table.h5", lambda p: p.write_text("a,b\n1,2\n")),
    "foreign hdf5": ("data/foreign.h5", _foreign_h5),
    "truncated dataset": ("data/cut.h5", _half_of("data/tiny.h5")),
    "folder as dataset": ("data/folder.h5", lambda p: p.mkdir()),
    "utf-16 dataset": ("data/utf16.h5", lambda p: p.write_text("Ä,b\n", encoding="utf-16")),
    "latin-1 name": ("data/caf\udce9.h5", _random),
    "empty checkpoint": ("checkpoints/empty/last.pt", lambda p: p.write_bytes(b"")),
    "random checkpoint": ("checkpoints/random/last.pt", _random),
    "foreign checkpoint": ("checkpoints/foreign/last.pt", lambda p: torch.save({"a": 1}, p)),
    "truncated checkpoint": ("checkpoints/cut/last.pt", _half_of("checkpoints/tiny/last.pt")),
    "folder as checkpoint": ("checkpoints/folder/last.pt", lambda p: p.mkdir()),
    "checkpoint link loop": ("checkpoints/loop/last.pt", _loop),
    "random hybrid": ("checkpoints/hybrid/random/last.pt", _random),
    "training as hybrid": (
        "checkpoints/hybrid/wrong/last.pt",
        _copy_of("checkpoints/tiny/last.pt"),
    ),
}


@pytest.fixture(scope="module")
def healthy_state(tmp_path_factory):
    """A state folder with one finished dataset and one training of one epoch."""
    from nn_compress.training import TrainConfig, train

    root = tmp_path_factory.mktemp("healthy") / "state"
    generate(MPI.COMM_SELF, TINY, root / "data" / "tiny.h5", progress=False)
    cfg = TrainConfig(
        dataset=str(root / "data" / "tiny.h5"),
        checkpoint_dir=str(root / "checkpoints" / "tiny"),
        epochs=1,
        batch_size=64,
        schedule=((0, 1e-3),),
    )
    train(cfg, log=lambda *a: None)
    return root


@pytest.mark.parametrize("kind", list(DAMAGES))
def test_status_lists_a_damaged_file_in_one_line_and_every_other_run(
    healthy_state, tmp_path, monkeypatch, capsys, kind
):
    root = tmp_path / "state"
    shutil.copytree(healthy_state, root, symlinks=True)
    name, spoil = DAMAGES[kind]
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    spoil(path)
    monkeypatch.setenv("NH_STATE", str(root))
    assert run("status", load_demo("status").main, []) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "error" not in captured.err, captured.err
    lines = captured.out.splitlines()

    def shown(text):  # a name that is not UTF-8 is printed with escapes
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    run_name = path.parent.name if path.name == "last.pt" else path.name
    about = [line for line in lines if f" {shown(run_name)}: " in line]
    assert len(about) == 1, captured.out
    assert f"cannot read {shown(str(path))}, " in about[0] and "expected" in about[0], about[0]
    assert any(line.startswith("dataset  tiny.h5: 20/20 samples") for line in lines), captured.out
    assert any(line.startswith("training tiny: step 4/4") for line in lines), captured.out


def test_status_summarises_the_load_log_per_stretch_and_machine(state, capsys):
    """The load beside the timings: one line per unbroken stretch on one CPU model."""
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "load.log").write_text(
        "2026-12-06T15:00:00Z 1.00 1.0 1.0 AMD_EPYC\n"
        "2026-12-06T15:05:00Z 3.00 1.0 1.0 AMD_EPYC\n"
        "2026-12-06T15:10:00Z 2.00 1.0 1.0 AMD_EPYC\n"
        "garbage\n"
        "2026-12-06T19:00:00Z 0.50 1.0 1.0 Intel_Xeon\n"
    )
    assert run("status", load_demo("status").main, []) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("load")]
    assert out == [
        "load     2026-12-06 15:00 to 15:10 UTC on AMD EPYC: 1-min load median 2.00, range "
        "1.00-3.00 (3 samples)",
        "load     2026-12-06 19:00 to 19:00 UTC on Intel Xeon: 1-min load median 0.50, range "
        "0.50-0.50 (1 samples)",
        f"load     {state / 'logs' / 'load.log'}: 1 line(s) that are not <time> <3 loads> <CPU> "
        "left out",
    ]


def test_status_into_a_closed_pipe_says_nothing(state):
    """``status.py | head -1``: the reader goes away; no BrokenPipeError, no error line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_"))}
    proc = subprocess.Popen(
        [sys.executable, str(DEMOS / "status.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # before the script has printed: its first write meets a closed pipe
    _, err = proc.communicate(timeout=120)
    assert err.decode() == "" and proc.returncode in (0, 141), err.decode()
