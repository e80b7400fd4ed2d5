"""Error statistics over held-out coefficients (nn_compress.statistics), with an oracle network."""

import numpy as np
import pytest
import torch
from mpi4py import MPI

from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.metrics import spectral_norm
from lod_fenicsx.pglod import pglod_solve
from nn_compress.dataset import flatten_local_matrices
from nn_compress.fields import sample
from nn_compress.statistics import HELD_OUT_START, error_distribution, summarize
from nn_compress.surrogate import NNLODSurrogate

N, n, ELL = 8, 2, 1


class Oracle(torch.nn.Module):
    """Rebuilds A from the patches' centre blocks and returns (1 + scale) S_{A,T} + shift e_0."""

    def __init__(self, scale=0.0, shift=0.0):
        super().__init__()
        self.scale, self.shift = scale, shift
        self.solver = PatchSolver(N, n, ELL)
        self.register_buffer("dummy", torch.zeros(1, dtype=torch.float64))

    def forward(self, x, mask=None):
        m = (2 * ELL + 1) * n
        centre = x.reshape(-1, m, m)[:, ELL * n : (ELL + 1) * n, ELL * n : (ELL + 1) * n].numpy()
        a = centre.reshape(N, N, n, n).transpose(0, 2, 1, 3).reshape(N * n, N * n)
        out = (1.0 + self.scale) * flatten_local_matrices(self.solver.local_matrices(a))
        out[:, : (2 * ELL + 2) ** 2] += self.shift  # column 0 of every S_{A,T}
        return torch.as_tensor(out) * (mask if mask is not None else 1.0)


def _stats(**oracle):
    net = Oracle(**oracle)
    return error_distribution(
        MPI.COMM_SELF, NNLODSurrogate(net, N, n, ELL), "A3", count=4, base_seed=7
    )


def test_exact_local_matrices_have_no_error_and_no_bias():
    st = _stats()
    assert st["spectral"].max() < 1e-12 and st["l2_relative"].max() < 1e-12
    assert (
        np.abs(st["row_sum_bias"]).max() < 1e-13 and np.abs(st["row_sum_bias_pglod"]).max() < 1e-13
    )
    # The samples are the held-out ones, in order.
    a = sample("A3", HELD_OUT_START + 2, 7, N * n).coefficient
    ref = pglod_solve(MPI.COMM_SELF, a, N, n, ELL)
    assert st["l2"][2] < 1e-12 * np.abs(ref.u_coarse).max()
    ref.destroy()


def test_scaled_surrogate_gives_the_known_errors():
    delta = 0.01
    st = _stats(scale=delta)
    # Ŝ = (1 + δ) S: û = u / (1 + δ), ‖S − Ŝ‖ = δ ‖S‖, row sums untouched.
    np.testing.assert_allclose(st["l2_relative"], delta / (1 + delta), rtol=1e-9)
    a = sample("A3", HELD_OUT_START, 7, N * n).coefficient
    ref = pglod_solve(MPI.COMM_SELF, a, N, n, ELL)
    assert st["spectral"][0] == pytest.approx(delta * spectral_norm(ref.matrix), rel=1e-9)
    ref.destroy()
    assert np.abs(st["row_sum_bias"]).max() < 1e-13


def test_row_sum_bias_counts_every_patch_through_a_node():
    """A shift c in column 0 of every S_{A,T}: each deep row is in (2ℓ+2)^2 = 16 patches."""
    st = _stats(shift=1e-3)
    np.testing.assert_allclose(st["row_sum_bias"], 16e-3, rtol=1e-10)
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["median"] == 3.0 and s["q10"] == pytest.approx(1.4) and s["q90"] == pytest.approx(4.6)


def test_structure_comparison_reads_both_tables(tmp_path):
    """demos/nnlod_structure_comparison.py: ratios of the medians, one figure per experiment."""
    import json

    from helpers import load_demo

    from nn_compress.statistics import statistics_record

    base = 1 + np.random.default_rng(0).random(20)
    names = ("spectral", "l2", "l2_relative", "row_sum_bias", "row_sum_bias_pglod")
    for label, scale in (("plain", 10.0), ("structured", 1.0)):
        values = {q: (1.0 if q == "spectral" else scale) * base for q in names}
        table = {
            "test_loss": 1e-3 / scale,
            "statistics": {"exp1": statistics_record(values, family="Ams")},
        }
        (tmp_path / label).mkdir()
        (tmp_path / label / "table.json").write_text(json.dumps(table))
    mod = load_demo("nnlod_structure_comparison")
    out = tmp_path / "out"
    assert (
        mod.main(
            [
                "--plain",
                str(tmp_path / "plain"),
                "--structured",
                str(tmp_path / "structured"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = (out / "comparison.md").read_text()
    assert "| exp1 | ratio of medians | | | 1.00 | 10.0 | |" in text
    assert (out / "exp1-plain-vs-structured.png").stat().st_size > 10_000


def test_projection_removes_the_row_sum_bias_of_a_shifted_surrogate():
    """The shift above, with ``NNLODSurrogate(project=True)``: gone where every patch is whole."""
    net = Oracle(shift=1e-3)
    kw = dict(count=2, base_seed=7)
    plain = error_distribution(MPI.COMM_SELF, NNLODSurrogate(net, N, n, ELL), "A3", **kw)
    surrogate = NNLODSurrogate(net, N, n, ELL, project=True)
    projected = error_distribution(MPI.COMM_SELF, surrogate, "A3", **kw)
    assert np.abs(projected["row_sum_bias"]).max() < 1e-13
    assert (projected["l2_relative"] < 0.5 * plain["l2_relative"]).all()


def test_progress_bar_only_when_asked(capsys):
    net = Oracle()
    for progress in (True, False):
        error_distribution(
            MPI.COMM_SELF, NNLODSurrogate(net, N, n, ELL), "A3", count=2, progress=progress
        )
        err = capsys.readouterr().err
        assert ("held-out A3" in err and "2/2" in err) is progress


def test_monte_carlo_table_says_whether_m_was_enough():
    from nn_compress.statistics import monte_carlo_table, samples_for_interval

    mc = {
        "samples": 200,
        "max_abs_mean_nnlod_minus_pglod": 1e-3,
        "ci95_nnlod_minus_pglod": 5e-5,  # 5 % of the difference: M = 200 is plenty
        "max_abs_mean_pglod_minus_fem_at_coarse_nodes": 1e-4,
        "ci95_pglod_minus_fem": 3e-5,  # 30 %: 9x the samples for 10 %
    }
    lines = monte_carlo_table({"exp1H": mc})
    assert "| exp1H | 200 | E û − E u_PG-LOD | 1.00e-03 | 5.00e-05 | 0.05 | 50 |" in lines
    assert "| exp1H | 200 | E u_PG-LOD − E u_FEM | 1.00e-04 | 3.00e-05 | 0.30 | 1800 |" in lines
    assert samples_for_interval(200, 1e-9, 1.0, 0.1) == 1
    zero = monte_carlo_table({"e": {**mc, "max_abs_mean_nnlod_minus_pglod": 0.0}})
    assert "| e | 200 | E û − E u_PG-LOD | 0.00e+00 | 5.00e-05 | — | — |" in zero
