"""The NN-LOD pipeline layer: schedules, exported networks, and the GPU chain without DOLFINx."""

import json

import pytest
import torch
from mpi4py import MPI

from helpers import run_without_fenics

from nn_compress.dataset import GenerationConfig, generate
from nn_compress.pipeline import train_network
from nn_compress.dataset import git_commit
from nn_compress.training import SCHEDULES, TrainConfig, export_network, load_model, parse_schedule

CFG = GenerationConfig(n_coarse=4, n_sub=2, ell=1, families={"A1": 10, "A3": 10})


def test_schedule_registry_and_custom_schedules():
    assert SCHEDULES["paper000"].epochs == 20 and SCHEDULES["paper000"].stages == (
        (0, 1e-4),
        (5, 1e-5),
    )
    assert parse_schedule("reduced000") is SCHEDULES["reduced000"]
    custom = parse_schedule("0:1e-3,4:1e-4")
    assert custom.stages == ((0, 1e-3), (4, 1e-4)) and custom.epochs == 0
    with pytest.raises(ValueError, match="first stage must start at epoch 0"):
        parse_schedule("2:1e-3")


def test_paper004_budget_gives_the_large_sets_about_the_steps_of_the_800_set():
    """The 3200-coefficient sets get 8 epochs: about the Adam steps of 30 epochs on 800."""
    from nn_compress.dataset import presets
    from nn_compress.training import optimiser_steps

    p = presets()
    capped = optimiser_steps(p["paper004-low-large"], SCHEDULES["paper004"].epochs, 1000)
    large = optimiser_steps(p["paper004-high-large"], SCHEDULES["paper004-large"].epochs, 1000)
    assert (capped, large) == (19680, 20976)
    assert SCHEDULES["paper004-large"].stages == ((0, 1e-4), (5, 1e-5), (7, 1e-6))
    assert [p[f"paper004-hierarchical-{c}"].n_samples for c in ("low", "moderate", "high")] == [
        800,
        800,
        800,
    ]


def test_networks_grown_from_another_base_get_their_own_names():
    from nn_compress.pipeline import base_tag, network_name

    assert network_name("paper004-low-reduced") == "paper004-low-reduced"
    assert base_tag(None) is None
    for given in (
        "networks/paper000-plain",
        "networks/paper000-plain/",
        "x/paper000-plain/last.pt",
    ):
        assert base_tag(given) == "paper000-plain"
    assert (
        network_name("paper004-low-reduced", True, base_tag("networks/paper000-plain"))
        == "paper004-low-reduced-structured-from-paper000-plain"
    )


def test_train_network_records_steps_and_the_test_loss_of_each_file(tmp_path):
    data = tmp_path / "d.h5"
    generate(MPI.COMM_SELF, CFG, data, progress=False)
    cfg = TrainConfig(
        dataset=str(data),
        checkpoint_dir=str(tmp_path / "ckpt"),
        epochs=2,
        batch_size=50,
        schedule=((0, 1e-3),),
        threads=1,
    )
    result = train_network(cfg, log=lambda *_: None)
    # 16 training samples x 16 elements = 256 pairs: 6 minibatches of 50 per epoch.
    assert result["optimiser_steps"] == 12 and result["epochs"] == 2
    assert set(result["test_loss_by_file"]) == {"last.pt", "best.pt"}
    assert result["test_loss"] == result["test_loss_by_file"]["last.pt"] > 0
    assert (
        json.loads((tmp_path / "ckpt" / "test_loss.json").read_text())["test_loss"]
        == result["test_loss"]
    )

    # Exported in shards no larger than asked for; the network reads back unchanged.
    files = export_network(
        tmp_path / "ckpt" / "last.pt", tmp_path / "net", extra={"losses": result}, max_bytes=20_000
    )
    shards = [f for f in files if f.suffix == ".pt"]
    assert len(shards) >= 2 and all(f.stat().st_size < 20_000 + 4096 for f in shards)
    a, _ = load_model(tmp_path / "ckpt" / "last.pt")
    b, info = load_model(tmp_path / "net")
    x = torch.rand(3, a.sizes[0])
    assert torch.equal(a(x), b(x))
    assert (
        info["generation_config"]["n_coarse"] == 4
        and info["losses"]["test_loss"] == result["test_loss"]
    )
    assert info["exported_by_commit"] == git_commit()  # "unknown" outside a git checkout


def test_gpu_chain_runs_without_dolfinx_petsc_or_mpi(tmp_path):
    """demos/nnlod_gpu.py's chain where only torch, NumPy, SciPy and h5py exist (on the CPU)."""
    code = f"""
        import pathlib
        from helpers import load_demo
        from nn_compress.dataset import GenerationConfig
        out = pathlib.Path({str(tmp_path)!r})
        cfg = GenerationConfig.from_json({CFG.to_json()!r})
        r = load_demo("nnlod_gpu").run_chain(
            "small", cfg, out, device="cpu", init_from=None, epochs=2,
            data=out / "d.h5", checkpoints=out / "ckpt", log=lambda *_: None,
        )
        print(r["test_loss"], r["optimiser_steps"])
    """
    run = run_without_fenics(code)
    assert run.returncode == 0, run.stderr
    loss, steps = run.stdout.split()
    assert float(loss) > 0 and int(steps) == 2 * 1  # 256 pairs, batch 1000: one step per epoch
    info = json.loads((tmp_path / "network" / "network.json").read_text())
    assert info["losses"]["test_loss"] == pytest.approx(float(loss)) and info["epoch"] == 1
