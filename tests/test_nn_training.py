"""Training of the compression network: loss (2.9), progress, resume, non-finite loss."""

import json

import h5py
import numpy as np
import pytest
import torch
from mpi4py import MPI

from nn_compress.dataset import GenerationConfig, generate
from nn_compress.training import NonFiniteLossError, TrainConfig, relative_loss, train

CFG = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "A2": 10})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "tiny.h5"
    generate(MPI.COMM_SELF, CFG, path, progress=False)  # real families and PatchSolver
    return path


def _cfg(dataset, tmp_path, **kw):
    base = dict(
        dataset=str(dataset),
        checkpoint_dir=str(tmp_path / "ckpt"),
        epochs=3,
        batch_size=64,
        schedule=((0, 1e-3), (2, 1e-4)),
        seed=3,
        threads=1,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_relative_loss_is_eq_2_9():
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    pred = torch.tensor([[3.0, 3.0], [0.0, 0.0]])
    # ½ (1/25 + 1/1) / 2
    assert relative_loss(pred, target).item() == pytest.approx(0.5 * (1 / 25 + 1) / 2)


def test_training_lowers_the_loss_and_writes_curves(dataset, tmp_path):
    cfg = _cfg(dataset, tmp_path)
    hist = train(cfg, log=lambda *_: None)
    assert hist["lr"] == [1e-3, 1e-3, 1e-4]
    assert hist["train_loss"][-1] < 0.8 * hist["train_loss"][0]
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    ckpt_dir = tmp_path / "ckpt"
    data = json.loads((ckpt_dir / "history.json").read_text())
    assert data["epoch"] == [1, 2, 3]
    assert (ckpt_dir / "loss.png").stat().st_size > 1000
    assert (ckpt_dir / "history.csv").read_text().startswith("epoch,lr,train_loss")
    ckpt = torch.load(ckpt_dir / "last.pt", weights_only=True)
    assert ckpt["config"]["seed"] == 3 and ckpt["epoch"] == 2
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "history"}


def test_resume_continues_identically(dataset, tmp_path):
    straight = train(_cfg(dataset, tmp_path / "a"), log=lambda *_: None)
    train(_cfg(dataset, tmp_path / "b", epochs=1), log=lambda *_: None)  # "killed" after epoch 1
    resumed = train(_cfg(dataset, tmp_path / "b"), log=lambda *_: None)
    assert resumed["train_loss"] == straight["train_loss"]
    a = torch.load(tmp_path / "a" / "ckpt" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "ckpt" / "last.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.parametrize("stop_at", [2, 6])  # inside epoch 1 and inside epoch 2 (4 steps each)
def test_a_run_stopped_inside_an_epoch_resumes_bit_identically(dataset, tmp_path, stop_at):
    straight = train(_cfg(dataset, tmp_path / "a"), log=lambda *_: None)
    cfg = _cfg(dataset, tmp_path / "b")
    train(cfg, log=lambda *_: None, stop=lambda step: step == stop_at)
    ckpt = torch.load(tmp_path / "b" / "ckpt" / "last.pt", weights_only=True)
    assert ckpt["partial_epoch"]["batch"] == stop_at % 4 and ckpt["epoch"] == stop_at // 4 - 1
    resumed = train(cfg, log=lambda *_: None)
    for key in ("train_loss", "val_loss", "lr", "steps"):
        assert resumed[key] == straight[key]
    a = torch.load(tmp_path / "a" / "ckpt" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "ckpt" / "last.pt", weights_only=True)
    assert "partial_epoch" not in b
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)


def test_checkpoints_are_written_inside_an_epoch_every_checkpoint_seconds(dataset, tmp_path):
    last = tmp_path / "ckpt" / "last.pt"
    seen = []

    def look(step):
        state = torch.load(last, weights_only=True) if last.exists() else {}
        seen.append((state.get("epoch"), state.get("partial_epoch", {}).get("batch")))
        return False

    train(_cfg(dataset, tmp_path, epochs=2), log=lambda *_: None, checkpoint_seconds=0, stop=look)
    # Each call sees the checkpoint of the step before it; the epoch's last step is the epoch's.
    assert seen[:5] == [(None, None), (-1, 1), (-1, 2), (-1, 3), (0, None)]
    assert seen[5:] == [(0, None), (0, 1), (0, 2), (0, 3)]


def test_bf16_epochs_train_under_autocast_then_in_float32(dataset, tmp_path):
    fp32 = train(_cfg(dataset, tmp_path / "a"), log=lambda *_: None)
    mixed = train(_cfg(dataset, tmp_path / "b", bf16_epochs=2), log=lambda *_: None)
    # bfloat16 keeps 8 bits of mantissa: the losses move, but by far less than they fall.
    first = abs(mixed["train_loss"][0] - fp32["train_loss"][0]) / fp32["train_loss"][0]
    assert 0 < first < 0.1
    assert mixed["train_loss"][-1] < 0.8 * mixed["train_loss"][0]
    ckpt = torch.load(tmp_path / "b" / "ckpt" / "last.pt", weights_only=True)
    assert ckpt["config"]["bf16_epochs"] == 2
    assert all(p.dtype == torch.float32 for p in ckpt["model"].values())
    with pytest.raises(ValueError, match="bf16_epochs"):
        train(_cfg(dataset, tmp_path / "c", bf16_epochs=0), log=lambda *_: None)


def test_a_copied_run_on_a_moved_dataset_resumes_bit_identically_with_a_higher_cap(
    dataset, tmp_path
):
    """Where a run and its data lie is not part of the run: a finished 1-epoch run, copied to
    another folder and pointed at a copy of its dataset, goes on to the 3 epochs of a run made
    with that cap from the start, weight for weight; a file made anew is refused."""
    import shutil

    straight = train(_cfg(dataset, tmp_path / "a"), log=lambda *_: None)
    train(_cfg(dataset, tmp_path / "b", epochs=1), log=lambda *_: None)
    moved = tmp_path / "elsewhere.h5"
    shutil.copyfile(dataset, moved)
    shutil.copytree(tmp_path / "b" / "ckpt", tmp_path / "c" / "ckpt")
    resumed = train(_cfg(moved, tmp_path / "c"), log=lambda *_: None)
    assert resumed["train_loss"] == straight["train_loss"] and len(resumed["epoch"]) == 3
    a = torch.load(tmp_path / "a" / "ckpt" / "last.pt", weights_only=True)
    c = torch.load(tmp_path / "c" / "ckpt" / "last.pt", weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], c["model"][k], rtol=0, atol=0)
    assert c["config"]["checkpoint_dir"] == str(tmp_path / "c" / "ckpt")
    other = tmp_path / "anew.h5"
    generate(MPI.COMM_SELF, CFG, other, progress=False)  # same settings, another file
    shutil.copytree(tmp_path / "b" / "ckpt", tmp_path / "d" / "ckpt")
    with pytest.raises(ValueError, match="another dataset file than .*anew.h5"):
        train(_cfg(other, tmp_path / "d"), log=lambda *_: None)


def test_resume_refuses_another_configuration(dataset, tmp_path):
    train(_cfg(dataset, tmp_path, epochs=1), log=lambda *_: None)
    with pytest.raises(ValueError, match="batch_size"):
        train(_cfg(dataset, tmp_path, batch_size=32), log=lambda *_: None)


def test_non_finite_loss_stops_with_a_clear_message(dataset, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(dataset.read_bytes())
    cfg = _cfg(bad, tmp_path, epochs=2)
    train(_cfg(bad, tmp_path, epochs=1), log=lambda *_: None)
    before = (tmp_path / "ckpt" / "last.pt").read_bytes()
    with h5py.File(bad, "r+") as f:
        f["fields"][0, 0, 0] = np.nan
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite training loss .* epoch 2.*last good checkpoint"
    ):
        train(cfg, log=lambda *_: None)
    assert (tmp_path / "ckpt" / "last.pt").read_bytes() == before


def test_max_per_family_limits_the_training_split_only(dataset, tmp_path):
    from nn_compress.dataset import PatchCutter
    from nn_compress.training import SplitTensors

    cfg = _cfg(dataset, tmp_path, max_per_family=3)
    cutter = PatchCutter(4, 2, 1)
    sizes = {
        split: SplitTensors(dataset, split, cutter, cfg, "cpu").n_samples
        for split in ("train", "val", "test")
    }
    assert sizes == {"train": 6, "val": 2, "test": 2}  # 2 families: 3 of 8 train, all val and test


def test_plateau_stage_counts_epochs_without_improvement():
    from nn_compress.training import plateau_stage

    losses = [1.0, 0.9, 0.895, 0.894, 0.5, 0.49, 0.489]
    # δ = 1 %: 0.895 and 0.894 do not improve on 0.9 by 1 % -> stage 1 after epoch 4 (patience 2);
    # stage 1 starts afresh at 0.5; 0.49 improves 2 %, 0.489 does not.
    assert [plateau_stage(losses[:k], 2, 0.01) for k in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert plateau_stage(losses, 1, 0.01) == 2  # after 0.895, and after 0.489
    assert plateau_stage(losses, 2, 0.0) == 0  # every epoch lowers the loss


def test_plateau_rule_moves_through_the_step_sizes_then_stops(dataset, tmp_path):
    cfg = _cfg(dataset, tmp_path, epochs=10, plateau=(1, 0.99))  # only the first epoch of a
    hist = train(cfg, log=lambda *_: None)  # stage improves by 99 %: two epochs per stage
    assert hist["lr"] == [1e-3, 1e-3, 1e-4, 1e-4]
    messages = []
    again = train(cfg, log=messages.append)  # a finished run: nothing more
    assert again["epoch"] == [1, 2, 3, 4] and "stopped by the plateau rule" in messages[-1]
    with pytest.raises(ValueError, match="plateau improvement 1.5"):
        train(_cfg(dataset, tmp_path / "x", plateau=(2, 1.5)), log=lambda *_: None)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_export_in_half_precision_halves_the_bytes_and_loads_as_float32(dataset, tmp_path, dtype):
    from nn_compress.training import export_network, load_model

    train(_cfg(dataset, tmp_path, epochs=1), log=lambda *_: None)
    last = tmp_path / "ckpt" / "last.pt"
    full, half = tmp_path / "full", tmp_path / "half"
    export_network(last, full)
    export_network(last, half, dtype=dtype)
    size = {f: sum(p.stat().st_size for p in f.glob("network-*.pt")) for f in (full, half)}
    assert 0.45 < size[half] / size[full] < 0.6
    ref, card = load_model(full)
    model, card = load_model(half)
    assert card["storage_dtype"] == [dtype]
    eps = {"float16": 2.0**-11, "bfloat16": 2.0**-8}[dtype]  # unit roundoff of the storage
    for (name, a), b in zip(ref.state_dict().items(), model.state_dict().values()):
        assert b.dtype == torch.float32, name
        assert (a - b).abs().max() <= eps * a.abs().max(), name
    with pytest.raises(ValueError, match="dtype 'int8'"):
        export_network(last, tmp_path / "x", dtype="int8")
