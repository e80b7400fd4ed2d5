"""The exact minimiser of the PINN and hybrid objectives (``hybrid_pinn.minimiser``)."""

import json

import numpy as np
import pytest

from hybrid_pinn.minimiser import objective_minimiser
from hybrid_pinn.problem import exact_solution
from hybrid_pinn.reference import fine_reference
from hybrid_pinn.training import TrainingConfig, paper_config
from lod_fenicsx.threads import set_blas_threads
from threadpoolctl import threadpool_info

SMALL = dict(eps=0.25, n_coarse=20, window=1, tau2=10.0, solver="scipy")


def test_the_pinn_objective_is_minimised_by_the_exact_solution():
    """tau_2 = 0: J alone, whose minimiser is u; what is left is the error of the P1 reference
    (3.2e-5 here) and the truncation of the series (1e-6)."""
    config = TrainingConfig(**SMALL)
    found = objective_minimiser(config, tau2=0.0)
    reference = fine_reference(config.eps, config.n_reference, solver="scipy")
    u = exact_solution(reference.nodes, config.eps)
    reference_error = np.linalg.norm(u - reference.values) / np.linalg.norm(reference.values)
    assert found.pinn_loss < 1e-5
    assert found.k_tilde == pytest.approx(5.0 / 6.0, abs=1e-6)
    assert found.relative_error == pytest.approx(reference_error, abs=1e-6)
    assert np.max(np.abs(found.values - u)) < 1e-5 * np.max(np.abs(u))


def test_the_sine_series_is_long_enough():
    config = TrainingConfig(**SMALL)
    coarse, fine = (objective_minimiser(config, n_modes=n) for n in (160, 240))
    assert coarse.relative_error == pytest.approx(fine.relative_error, abs=1e-6)


def test_a_larger_coupling_weight_trades_the_pinn_loss_for_the_gap():
    """Penalty-method invariants: as tau_2 grows, J(v*) does not fall and the gap does not grow;
    here the error of v* grows with it, from the PINN's (u) on. (The gap need not close: the
    moving average Qbar can be singular, so Qbar v = y_h may have no solution.)"""
    config = TrainingConfig(**SMALL)
    found = [objective_minimiser(config, tau2=t) for t in (0.0, 1.0, 100.0, 1e4, 1e7)]
    loss = [f.pinn_loss for f in found]
    gap = [f.gap for f in found]
    error = [f.relative_error for f in found]
    assert all(a <= b * (1 + 1e-9) for a, b in zip(loss, loss[1:]))
    assert all(a >= b for a, b in zip(gap, gap[1:]))
    assert all(a <= b for a, b in zip(error, error[1:]))
    assert loss[0] < 1e-5 < loss[-1] and gap[-1] < 0.1 * gap[0]


def test_table_1_floor_at_eps_1_16():
    """Table 1 at eps = 1/16 (tau_2 = 10, N_h = 50 nodes, omega_av = 3, (11)): the best error the
    Hybrid's objective allows is 0.0350 (the paper's Hybrid: 0.036); one second here."""
    found = objective_minimiser(paper_config(16, "hybrid", solver="scipy"))
    assert found.relative_error == pytest.approx(0.03496, abs=2e-5)
    assert found.gauss_newton_steps <= 5


def test_bad_arguments_are_one_clear_error():
    config = TrainingConfig(**SMALL)
    with pytest.raises(ValueError, match="tau2 must be a finite number >= 0"):
        objective_minimiser(config, tau2=-1.0)
    with pytest.raises(ValueError, match="n_modes <= n_points"):
        objective_minimiser(config, n_modes=100, n_points=50)


def test_the_floor_diagnostic_writes_its_table(tmp_path):
    """`hybrid_pinn_1d_diagnostics.py floor --cells ...`: the chosen cases into floor.{json,md},
    the ones already there kept."""
    from helpers import load_demo

    demo = load_demo("hybrid_pinn_1d_diagnostics")
    out = str(tmp_path)
    set_blas_threads(2)  # what a fresh process has on this machine
    assert demo.main(["floor", "--cells", "16-tau2-0", "--output-dir", out]) == 0
    assert demo.main(["floor", "--cells", "16-table1-nodes-11", "--output-dir", out]) == 0
    table = json.loads((tmp_path / "floor.json").read_text())
    assert list(table) == ["16-table1-nodes-11", "16-tau2-0"]
    row = table["16-table1-nodes-11"]
    assert (row["tau2"], row["coarse_mesh"], row["coupling"]) == (10.0, "nodes", "11")
    assert row["relative_error"] == pytest.approx(0.03496, abs=2e-5)
    assert row["change_with_1_5x_modes"] < 1e-5
    assert table["16-tau2-0"]["relative_error"] < 1e-3
    assert (tmp_path / "floor.png").stat().st_size > 10_000
    assert (
        "| 16-table1-nodes-11 | 1/16 | 10 | nodes | 11 | 0.03496 |"
        in (tmp_path / "floor.md").read_text()
    )
    # Its dense QR ran on one OpenBLAS thread (torch.set_num_threads does not reach OpenBLAS).
    counts = {i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"}
    assert counts == {1}
