"""Run names (one encoding of eps, method, seeds and overrides) and run summaries."""

import numpy as np

from hybrid_pinn.runs import error_at, overrides_tag, run_name, summarize
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
