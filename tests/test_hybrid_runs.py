"""Run names (one encoding of eps, method, seeds and overrides) and run summaries."""

import numpy as np
import pytest

from hybrid_pinn.runs import (
    compare_runs,
    error_at,
    overrides_tag,
    read_error_history,
    run_name,
    summarize,
    write_error_history,
)
from hybrid_pinn.training import Trainer, TrainingConfig


def test_run_names_carry_every_choice():
    assert overrides_tag({}) == ""
    assert overrides_tag({"tau2": 1e4, "fourier": "literal", "tau2_switch": None}) == (
        "_fourier-literal_tau2-10000_tau2_switch-None"
    )
    assert (
        run_name(48, "hybrid", "fourier", (0, 1, 2), {"schedule": "wang"})
        == "eps48_hybrid_fourier_s0-1-2_schedule-wang"
    )
    assert run_name(16, "pinn", "fourier", (1,), {}) != run_name(16, "pinn", "fourier", (0, 1), {})


def test_summary_reads_iterations_to_a_target_from_the_log():
    trainer = Trainer(
        TrainingConfig(
            eps=0.5,
            width=8,
            n_features=4,
            n_collocation=32,
            n_coarse=9,
            window=1,
            n_reference=100,
            seeds=(0, 1),
        )
    )
    trainer.history = [
        dict(iteration=i, rel_l2=e, k_tilde=[0.8, 0.8])
        for i, e in ((100, [0.9, 0.5]), (200, [0.3, 0.6]), (300, [0.35, 0.2]))
    ]
    trainer.iteration = 300
    s = summarize(trainer, target_error=0.32)
    assert s.reached == [200, 300]
    assert np.allclose(s.final, [0.35, 0.2]) and np.allclose(s.minimum, [0.3, 0.2])
    assert s.pinn_points.shape == (2,) and np.all(s.pinn_between > 0)
    assert np.allclose(error_at(trainer.history, 150), [0.3, 0.6])


def test_public_api_resolves():
    import hybrid_pinn

    assert "Trainer" in hybrid_pinn.__all__ and "paper_config" in hybrid_pinn.__all__
    for name in hybrid_pinn.__all__:
        assert getattr(hybrid_pinn, name) is not None


def _history(path, seeds, rows):
    """A history file as the demo writes it, from (iteration, errors per seed) rows."""

    class Fake:
        class config:
            pass

        history = [
            dict(iteration=it, wall_time=0.1 * it, rel_l2=list(e), k_tilde=[0.83] * len(e))
            for it, e in rows
        ]

    Fake.config.seeds = tuple(seeds)
    write_error_history(Fake, path)
    return path


def test_error_history_round_trips_and_the_comparison_reads_it(tmp_path):
    pinn = _history(
        tmp_path / "p.csv", (0, 1), [(250, (2.0, 2.0)), (500, (1.0, 1.5)), (750, (0.5, 1.2))]
    )
    hybrid = _history(tmp_path / "h.csv", (0, 1), [(250, (1.5, 2.1)), (500, (0.4, 1.0))])
    iterations, errors, seeds = read_error_history(pinn)
    assert iterations.tolist() == [250, 500, 750] and seeds == [0, 1]
    assert errors[:, 1].tolist() == [2.0, 1.5, 1.2]
    c = compare_runs(pinn, hybrid)
    assert (c["pinn_iterations"], c["hybrid_iterations"], c["common_logged_iterations"]) == (
        750,
        500,
        2,
    )
    s0, s1 = c["seeds"]
    assert s0["hybrid_below_at_every_common_iteration"] and s0["hybrid_final"] == 0.4
    assert s0["hybrid_iterations_to_pinn_final"] == 500
    assert s0["fraction_of_pinn_iterations"] == pytest.approx(500 / 750)
    assert not s1["hybrid_below_at_every_common_iteration"]  # 2.1 > 2.0 at 250
    assert (s0["hybrid_below_at_common_iterations"], s1["hybrid_below_at_common_iterations"]) == (
        2,
        1,
    )
    assert s1["hybrid_iterations_to_pinn_final"] == 500 and s1["pinn_final"] == 1.2
    # Ms-PINN is below at 250 on seed 1 but not at 500, the last common iteration: never for good.
    assert s0["pinn_below_from"] is None and s1["pinn_below_from"] is None
    # Tail means: over the logged iterations of the last `tail` (500: 500 and 750 for Ms-PINN).
    short = compare_runs(pinn, hybrid, tail=500)
    assert short["tail_iterations"] == 500
    assert short["seeds"][1]["pinn_tail_mean"] == pytest.approx((1.5 + 1.2) / 2)
    assert short["seeds"][1]["hybrid_tail_mean"] == pytest.approx((2.1 + 1.0) / 2)
    assert s0["pinn_tail_mean"] == pytest.approx(3.5 / 3)  # the default window holds all
    other = _history(tmp_path / "o.csv", (0, 2), [(250, (1.0, 1.0))])
    with pytest.raises(ValueError, match="seeds"):
        compare_runs(pinn, other)


def test_the_comparison_finds_where_ms_pinn_passes_below_for_good(tmp_path):
    """Ms-PINN below at 250, above at 500, below from 750 on (equal counts as not below)."""
    its = (250, 500, 750, 1000, 1250)
    pinn = _history(tmp_path / "p.csv", (0, 1), zip(its, [(1, 1), (2, 2), (1, 2), (1, 1), (1, 1)]))
    hybrid = _history(tmp_path / "h.csv", (0, 1), zip(its[:4], [(2, 2)] * 3 + [(2, 1)]))
    s0, s1 = compare_runs(pinn, hybrid)["seeds"]
    assert s0["pinn_below_from"] == 750
    assert s1["pinn_below_from"] is None  # equal at 750 and 1000, the last common iteration
    first = _history(tmp_path / "f.csv", (0, 1), zip(its[:2], [(3, 3)] * 2))
    assert [s["pinn_below_from"] for s in compare_runs(pinn, first)["seeds"]] == [250, 250]
