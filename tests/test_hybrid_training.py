"""Alg. 1: schedules, K~ <= 0 fallback, members, checkpoint/resume, non-finite loss, bad input,
short runs."""

import logging
import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers import SMALL_HYBRID

from hybrid_pinn.training import (
    SCHEDULES,
    TABLE_1,
    NonFiniteLossError,
    Trainer,
    TrainingConfig,
    build_network,
    paper_config,
)

SMALL = dict(
    **SMALL_HYBRID,
    lr=5e-3,
    decay_every=200,
    schedule="stepped",
)


@pytest.mark.parametrize(
    "name, iteration, lr",
    [
        ("stepped", 999, 5e-4),
        ("stepped", 1000, 5e-4 * 0.75),
        ("stepped", 30000, 5e-4 * 0.75**30),
        ("continuous", 500, 5e-4 * 0.75**0.5),
        ("continuous", 30000, 5e-4 * 0.75**30),
        ("per-10000", 10000, 5e-4 * 0.75),
        ("per-10000", 120000, 5e-4 * 0.75**12),
        ("wang", 0, 1e-3),
        ("wang", 1500, 1e-3 * 0.9**1.5),
        ("constant", 120000, 5e-4),
    ],
)
def test_schedule_readings_give_the_stated_step_size(name, iteration, lr):
    assert math.isclose(SCHEDULES[name](iteration), lr, rel_tol=1e-12)


def test_trainer_applies_the_schedule_at_each_iteration():
    """Step k uses lr(k): after 3 steps of 'stepped' with period 2,
    the last step used 5e-3 * 0.75."""
    trainer = Trainer(TrainingConfig(**dict(SMALL, decay_every=2, method="pinn")))
    for _ in range(3):
        trainer.step()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-3 * 0.75, rel=1e-12)
    assert trainer.config.learning_rate(4) == pytest.approx(5e-3 * 0.75**2, rel=1e-12)


class Cell(nn.Module):
    """v = a (eps / 2 pi)(1 - cos(2 pi x / eps)): v' = a sin(2 pi x / eps), so
    K~[v] = 1/sqrt(0.44) + a (1 - 1.2/sqrt(0.44)) = 1.508 - 0.809 a, negative for a = 3."""

    n_models = 1

    def __init__(self, eps: float, a: float):
        super().__init__()
        self.omega = 2 * math.pi / eps
        self.a = nn.Parameter(torch.tensor(a))

    def jet(self, x, order=2):
        w, a = self.omega, self.a
        rows = [a / w * (1 - torch.cos(w * x)), a * torch.sin(w * x), a * w * torch.cos(w * x)]
        return torch.stack(rows[: order + 1])[None]

    def forward(self, x):
        return self.jet(x, 0)[:, 0]


def test_non_coercive_step_falls_back_to_pinn_and_is_logged(caplog):
    config = TrainingConfig(**dict(SMALL, eps=0.25, iterations=2), tau2=10.0)
    trainer = Trainer(config, network=Cell(0.25, 3.0))
    with caplog.at_level(logging.WARNING, logger="hybrid_pinn"):
        result = trainer.step()
    assert result.fallback[0] and result.k_tilde[0] < -0.9  # 1.508 - 0.809 * 3 = -0.919
    assert math.isnan(result.coupling[0]) and result.loss[0] == result.pinn[0]
    assert trainer.fallbacks == [(0, 0)]
    assert "plain PINN step" in caplog.text


@pytest.mark.parametrize("method", ["pinn", "hybrid"])
def test_members_train_as_if_alone(method):
    """Seeds (4, 7) side by side give, after 5 Adam steps, the same networks as each seed alone
    (float64)."""
    common = dict(SMALL, method=method, dtype="float64")
    together = Trainer(TrainingConfig(**common, seeds=(4, 7)))
    alone = [Trainer(TrainingConfig(**common, seeds=(s,))) for s in (4, 7)]
    for _ in range(5):
        together.step()
        for t in alone:
            t.step()
    for member, t in enumerate(alone):
        for (name, a), b in zip(together.network.named_parameters(), t.network.parameters()):
            assert torch.allclose(a[member], b[0], rtol=1e-9, atol=1e-12), name
    errors = together.relative_error()
    assert np.allclose(errors, [t.relative_error()[0] for t in alone], rtol=1e-9)


def test_jet_and_autograd_training_agree():
    """Three hybrid steps with the closed-form jet and with double-backward autograd: same iterates
    (float64)."""
    runs = [
        Trainer(TrainingConfig(**SMALL, dtype="float64", derivatives=d))
        for d in ("jet", "autograd")
    ]
    for trainer in runs:
        for _ in range(3):
            trainer.step()
    for a, b in zip(*(t.network.parameters() for t in runs)):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="one seed"):
        TrainingConfig(**SMALL, derivatives="autograd", seeds=(0, 1))


@pytest.mark.parametrize("shift", [False, True])
def test_checkpoint_resume_gives_the_same_next_iterates(tmp_path, shift):
    """Also with the randomly shifted collocation grid:
    the saved RNG state makes the resumed run equal."""
    config = TrainingConfig(
        **SMALL,
        iterations=4,
        log_every=4,
        checkpoint_every=4,
        checkpoint_dir=str(tmp_path),
        shift_collocation=shift,
        seeds=(0, 1),
    )
    Trainer(config).train()
    straight = Trainer(TrainingConfig(**dict(vars(config), iterations=8, checkpoint_dir=None)))
    straight.train()
    resumed = Trainer.resume_or_start(TrainingConfig(**dict(vars(config), iterations=8)))
    assert resumed.iteration == 4
    resumed.train()
    for a, b in zip(straight.network.parameters(), resumed.network.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(straight.network.body.B, resumed.network.body.B)
    assert resumed.history[-1]["rel_l2"] == straight.history[-1]["rel_l2"]
    assert resumed.wall_time > 0


def test_resume_refuses_a_different_run(tmp_path):
    config = TrainingConfig(**SMALL, iterations=2, checkpoint_dir=str(tmp_path))
    Trainer(config).train()
    Trainer(config).save_checkpoint()
    with pytest.raises(
        ValueError, match=r"holds a different run \(fourier: 'angular' there, 'literal' now\)"
    ):
        Trainer.resume_or_start(TrainingConfig(**dict(vars(config), fourier="literal")))
    with pytest.raises(ValueError, match="cannot change on resume"):
        Trainer.from_checkpoint(str(tmp_path / "last.pt"), tau2=3.0)


def test_non_finite_loss_saves_last_good_state_and_stops(tmp_path):
    config = TrainingConfig(**SMALL, iterations=10, checkpoint_dir=str(tmp_path))
    trainer = Trainer(config)
    for _ in range(3):
        trainer.step()
    good = [p.detach().clone() for p in trainer.network.parameters()]
    objective = trainer.objective

    def poisoned():
        loss, result = objective()
        result.loss[:] = float("nan")
        return loss * float("nan"), result

    trainer.objective = poisoned
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at iteration 3 for seeds \[0\]"):
        trainer.train()
    state = torch.load(tmp_path / "last_good.pt", weights_only=True)
    assert state["iteration"] == 3
    saved = [state["network"][name] for name, _ in trainer.network.named_parameters()]
    assert all(torch.equal(s, g) for s, g in zip(saved, good))


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("eps", 0.0, "eps"),
        ("eps", float("nan"), "eps"),
        ("window", 17, "window"),
        ("window", -1, "window"),
        ("n_collocation", 1, "collocation"),
        ("n_collocation", 0, "n_collocation"),
        ("tau2", -1.0, "tau2"),
        ("tau2", float("inf"), "tau2"),
        ("method", "lod", "method"),
        ("fourier", "radians", "fourier"),
        ("schedule", "cosine", "schedule"),
        ("coupling", "12", "coupling"),
        ("coarse_mesh", "x", "coarse_mesh"),
        ("compression", "gauss", "compression"),
        ("coupling_norm", "h1", "coupling_norm"),
        ("pinn_quadrature", "max", "pinn_quadrature"),
        ("seeds", (1, 1), "seeds"),
        ("seeds", (), "seeds"),
        ("iterations", -1, "iterations"),
        ("decay_every", 0, "decay_every"),
        ("bias_init", "uniform", "bias_init"),
        ("normalize_input", "yes", "normalize_input"),
    ],
)
def test_invalid_configuration_is_refused(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**dict(SMALL, **{field: value}))


def test_wang_choices_reach_the_network():
    """``bias_init`` and ``normalize_input`` are passed to the network the trainer builds."""
    net = build_network(TrainingConfig(**dict(SMALL, bias_init="normal", normalize_input=True)))
    assert torch.count_nonzero(net.body.head.bias) == 1
    assert (net.body.center, net.body.spread) == (0.5, math.sqrt(1.0 / 12.0))
    plain = build_network(TrainingConfig(**SMALL))
    assert torch.count_nonzero(plain.body.head.bias) == 0 and plain.body.spread == 1.0


def test_paper_configuration_matches_table_1():
    c = paper_config(64)
    assert (c.window, c.depth, c.width, c.n_collocation, c.tau2, c.n_coarse, c.activation) == (
        1,
        2,
        150,
        1000,
        1200.0,
        64,
        "swish",
    )
    assert paper_config(16, architecture="mlp").tau2_switch == (14500, 500.0)
    with pytest.raises(ValueError, match="Table 1"):
        paper_config(32)


@pytest.mark.parametrize("method, bound", [("pinn", 0.02), ("hybrid", 0.03)])
def test_short_training_lowers_the_error(method, bound):
    """eps = 1/2, 600 Adam steps, seed 0: relative L^2 error from 0.73 to below the bound
    (measured 0.0043 PINN, 0.0075 hybrid with tau_2 = 1)."""
    trainer = Trainer(
        TrainingConfig(**SMALL, method=method, tau2=1.0, iterations=600, log_every=600)
    )
    start = trainer.relative_error()[0]
    trainer.train()
    assert start > 0.7
    assert trainer.history[-1]["rel_l2"][0] < bound
    assert np.isfinite(trainer.history[-1]["coupling"][0]) == (method == "hybrid")


def test_run_started_without_dolfinx_continues_here(tmp_path):
    """The GPU machine's path: a hybrid run trained with the SciPy solver in a process without
    DOLFINx, PETSc or MPI, continued here with the PETSc solver, equals a run done here throughout
    (the two solvers agree to round-off; float64 so that it shows)."""
    import json

    from helpers import run_without_fenics

    settings = dict(SMALL, method="hybrid", dtype="float64", seeds=(0, 1), log_every=4)
    done = run_without_fenics(
        f"""
        from hybrid_pinn.training import Trainer, TrainingConfig
        settings = {settings!r}
        config = TrainingConfig(**settings, iterations=4, checkpoint_dir={str(tmp_path)!r},
                                solver="scipy")
        trainer = Trainer(config)
        trainer.train()
        trainer.save_checkpoint()
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = Trainer.resume_or_start(
        TrainingConfig(**settings, iterations=8, checkpoint_dir=str(tmp_path))
    )
    assert resumed.iteration == 4 and resumed.config.solver == "petsc"
    resumed.train()
    straight = Trainer(TrainingConfig(**settings, iterations=8))
    straight.train()
    for a, b in zip(straight.network.parameters(), resumed.network.parameters()):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    assert np.allclose(resumed.history[-1]["rel_l2"], straight.history[-1]["rel_l2"], rtol=1e-9)
    assert json.dumps(resumed.history[0]["rel_l2"]) != json.dumps([0.0, 0.0])


def test_a_run_saved_on_the_gpu_machine_continues_on_the_cpu(tmp_path):
    """env/gpu-hybrid.sh's checkpoints say device 'cuda'; the CPU continues them (no GPU needed)."""
    from hybrid_pinn.runs import ran_where
    from plumbing.checkpoint import load_checkpoint, save_atomic

    config = TrainingConfig(**SMALL, iterations=2, checkpoint_dir=str(tmp_path))
    trainer = Trainer(config)
    trainer.train()
    path = trainer.save_checkpoint()
    state = load_checkpoint(path)
    state["config"]["device"] = "cuda"
    del state["segments"]  # as written before the segments were recorded
    save_atomic(state, path)
    resumed = Trainer.resume_or_start(TrainingConfig(**dict(vars(config), iterations=4)))
    assert resumed.iteration == 2 and resumed.config.device == "cpu"
    resumed.train()
    assert resumed.iteration == 4
    solver = config.solver
    assert resumed.segments == [
        {"start": 0, "device": "cuda", "solver": solver},
        {"start": 2, "device": "cpu", "solver": solver},
    ]
    assert (
        ran_where(resumed.segments, 4)
        == f"iterations 0-2 on cuda ({solver}), 2-4 on cpu ({solver})"
    )
    resumed.train()  # nothing left to do: no new segment
    assert len(Trainer.from_checkpoint(resumed.save_checkpoint()).segments) == 2


def test_where_the_iterations_ran_gives_each_segment_its_seconds():
    """Seconds per segment from the logged wall times: a GPU part is not hidden in one sum."""
    from hybrid_pinn.runs import ran_where

    segments = [
        {"start": 0, "device": "cuda", "solver": "scipy"},
        {"start": 63000, "device": "cpu", "solver": "petsc"},
    ]
    history = [
        {"iteration": 62750, "wall_time": 697.3},
        {"iteration": 63000, "wall_time": 700.2},
        {"iteration": 120000, "wall_time": 7684.4},
    ]
    assert ran_where(segments, 120000, history) == (
        "iterations 0-63000 on cuda (scipy) in 700 s, 63000-120000 on cpu (petsc) in 6984 s"
    )
    # A boundary that is not a logged iteration: no seconds rather than wrong ones.
    assert ran_where(segments, 120000, history[2:]) == (
        "iterations 0-63000 on cuda (scipy), 63000-120000 on cpu (petsc)"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(ValueError, match="device 'cuda' requested, but .* no CUDA GPU; use 'cpu'"):
        TrainingConfig(**SMALL, device="cuda")
    with pytest.raises(ValueError, match="device"):
        TrainingConfig(**SMALL, device="gpu0")


def test_n_features_follows_the_width_unless_set():
    assert TrainingConfig(width=60).n_features == 30
    assert TrainingConfig(width=60, n_features=7).n_features == 7
    assert [paper_config(inv).n_features for inv in (16, 48, 64)] == [
        TABLE_1[inv]["width"] // 2 for inv in (16, 48, 64)
    ]
    assert paper_config(48, n_features=400).n_features == 400


def test_the_readings_of_qbar_its_norm_and_j_reach_the_objective():
    """compression, coupling_norm and pinn_quadrature change the trained objective as the
    losses say: J with weights 1 is M = 64 times J with 1/M; R_delta in the nodal norm is the
    trapezoidal sum of the nodal gap squared; the exact compression (10) agrees with a
    2000-point mean of the same network over each window, to the error of its 16-point rule
    (float64, one initial network)."""
    common = dict(SMALL, dtype="float64", tau2=10.0)
    base = Trainer(TrainingConfig(**common))
    b = base.objective()[1]
    s = Trainer(TrainingConfig(**common, pinn_quadrature="sum")).objective()[1]
    assert s.pinn[0] == pytest.approx(64 * b.pinn[0], rel=1e-12)
    assert s.coupling[0] == pytest.approx(b.coupling[0], rel=1e-12)

    nodes = base.coarse.nodes
    y = base.coarse.solve_state(b.k_tilde[0])
    with torch.no_grad():
        v = base.network(base.x_coarse)[0].numpy()
    gap = base.average.numpy() @ v - y
    weights = np.full(len(nodes), nodes[1])
    weights[[0, -1]] /= 2
    n = Trainer(TrainingConfig(**common, coupling_norm="nodal")).objective()[1]
    assert n.coupling[0] == pytest.approx(10.0 * np.sum(weights * gap**2), rel=1e-12)
    assert abs(n.coupling[0] / b.coupling[0] - 1) > 1e-3

    exact = Trainer(TrainingConfig(**common, compression="exact"))
    e = exact.objective()[1]
    delta = common["eps"]
    inner = (nodes >= delta / 2) & (nodes <= 1 - delta / 2)
    offsets = ((np.arange(2000) + 0.5) / 2000 - 0.5) * delta
    with torch.no_grad():
        means = exact.network(torch.as_tensor((nodes[:, None] + offsets).ravel()))[0]
    compressed = np.where(inner, means.numpy().reshape(len(nodes), -1).mean(axis=1), v)
    gap = compressed - exact.coarse.solve_state(e.k_tilde[0])
    # agrees to the 16-point rule's error (3e-4 here), and is not the moving average's value
    assert e.coupling[0] == pytest.approx(10.0 * gap @ exact.coarse.mass @ gap, rel=1e-3)
    assert abs(e.coupling[0] / b.coupling[0] - 1) > 0.01  # 0.019
