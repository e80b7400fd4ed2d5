"""The numbers of ``demos/results/paper004_paper/README.md`` against the files they come from.

Issue 31, item 5: every number in the paper-size README of paper 004 is a field of a committed
result file of that folder (``table.json`` and the tables of the one-factor runs beside it,
written by ``demos/paper004_experiments.py`` or ``demos/compare_results.py``), a configuration
number (set sizes, schedules, the bound of the statements), or a ratio of such numbers, printed
rounded from it. Each printed number is one case (see ``provenance.py``); the README's prose is
read by the words around its numbers. No network is trained or evaluated.
"""

from __future__ import annotations

import functools
import json
import pathlib

import numpy as np
from provenance import ReadmeCases, check, const, every, git_show, lookup, ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "demos" / "results" / "paper004_paper"
CASES = ReadmeCases(RESULTS / "README.md")
_prose = CASES.prose

MAIN = "table.json"
STRUCTURED = "structured/table.json"
PROJECTED = "projected/table.json"  # the Intel Xeon's exp1 pair, output projected
PROJECTED_AMD = "projected/amd-exp1-large/table.json"
PROJECTED_H = "projected/hierarchical/table.json"
INTEL = "intel-exp1-large/table.json"
CAP60 = "exp3-small-cap60"
LEVELS = ("low", "moderate", "high")
PLAIN_ROWS = [f"exp{i}-{s}" for i in (1, 2, 3) for s in ("small", "large")]


# --- sources ----------------------------------------------------------------------------------


@functools.cache
def _json(path: str) -> dict:
    return json.loads((RESULTS / path).read_text())


def field(path: str, *keys, scale: float = 1.0):
    """The value at ``keys`` of a result file of the folder."""
    return lookup(lambda: _json(path), *keys, scale=scale)


def held_out(path: str, row: str, quantity: str, stat: str = "median", scale: float = 1.0):
    """A summary of the held-out statistics of one row."""
    return field(path, row, "statistics", "summary", quantity, stat, scale=scale)


def quantiles(path: str, row: str, quantity: str):
    """Median, 10 % and 90 % of a held-out quantity, in the README's order."""
    return [held_out(path, row, quantity, s) for s in ("median", "q10", "q90")]


def mc(path: str, row: str, key: str):
    return field(path, row, "monte_carlo", key)


def monte_carlo(row: str):
    """M, max |E û − E u_PG-LOD| and its 95 % half-width, that maximum in % of max E u_FEM,
    max E u_FEM, and max |E u_PG-LOD − E u_FEM| in % of max E u_FEM."""
    nn, pg = "max_abs_mean_nnlod_minus_pglod", "max_abs_mean_pglod_minus_fem_at_coarse_nodes"
    return [
        mc(MAIN, row, "samples"),
        mc(MAIN, row, nn),
        mc(MAIN, row, "ci95_nnlod_minus_pglod"),
        mc_percent(MAIN, row, nn),
        mc(MAIN, row, "max_mean_fem"),
        mc_percent(MAIN, row, pg),
    ]


def fem_interval(path: str, row: str):
    """max E û, max E u_FEM and the 95 % half-width of E u_FEM."""
    return [mc(path, row, k) for k in ("max_mean_nnlod", "max_mean_fem", "ci95_mean_fem")]


def mc_percent(path: str, row: str, *keys: str):
    """A sum of Monte Carlo maxima as a percentage of max E u_FEM."""

    def value():
        return 100.0 * sum(mc(path, row, k)() for k in keys) / mc(path, row, "max_mean_fem")()

    return value


def history(path: str, row: str, key: str, epoch: int):
    return lambda: _json(path)[row]["history"][key][epoch - 1]


def cap60(name: str, *keys):
    return field(f"{CAP60}/{name}", *keys)


def relative_change(a, b):
    """|b / a − 1| in percent."""
    return lambda: 100.0 * abs(b() / a() - 1.0)


@functools.cache
def _presets():
    from nn_compress.dataset import presets

    return presets()


def total_samples(name: str):
    return lambda: sum(_presets()[name].families.values())


def per_lambda(level: str):
    """The sample count of each representative λ of a hierarchical preset."""
    return lambda: tuple(_presets()[f"paper004-hierarchical-{level}"].families.values())


def hierarchical_shape(level: str):
    """(number of representative λ, samples per λ) of a hierarchical preset."""
    return lambda: len(per_lambda(level)()), per_lambda(level)


def schedule(name: str):
    from nn_compress.training import SCHEDULES

    return SCHEDULES[name]


def projection(row: str) -> dict:
    """A hierarchical row without and with its output projected (nothing retrained)."""
    l2, l2p = held_out(MAIN, row, "l2_relative"), held_out(PROJECTED_H, row, "l2_relative")
    return {
        "l2": l2,
        "l2 projected": l2p,
        "l2 gain": ratio(l2, l2p),
        "mc": mc(MAIN, row, "max_abs_mean_nnlod_minus_pglod"),
        "mc projected": mc(PROJECTED_H, row, "max_abs_mean_nnlod_minus_pglod"),
        "max nnlod projected": mc(PROJECTED_H, row, "max_mean_nnlod"),
    }


def paired(path: str, reference: str, row: str):
    """Over the held-out coefficients of a row in two tables: how many have the smaller
    relative L² error in ``path``, how many there are, and the median ratio of the two."""

    def errors(p):
        return np.array(_json(p)[row]["statistics"]["values"]["l2_relative"])

    return [
        lambda: int((errors(path) < errors(reference)).sum()),
        lambda: len(errors(path)),
        lambda: float(np.median(errors(path) / errors(reference))),
    ]


def changes(before, after, row: str):
    """Per quantity, the largest relative change of a row between two tables (percent)."""

    @functools.cache
    def by_quantity():
        from nn_compress.statistics import result_changes

        return result_changes(before(), after())[row]["by_quantity"]

    return lambda *quantities: lambda: 100.0 * max(by_quantity()[q] for q in quantities)


def _samples_for_interval(*args):
    from nn_compress.statistics import samples_for_interval

    return samples_for_interval(*args)


def _close_percent():
    def value():
        from nn_compress.statements import CLOSE

        return 100.0 * CLOSE

    return value


def largest_change_in_markdown(commit: str, path: str):
    """The largest 'largest relative change' of a compare_results table as committed."""

    def value():
        rows = [
            line.strip().strip("|").split("|")
            for line in git_show(commit, path).splitlines()
            if line.startswith("| exp")
        ]
        return max(float(r[2]) for r in rows if len(r) == 4)

    return value


# --- the cases --------------------------------------------------------------------------------


@CASES.guarded
def datasets():
    _prose(
        "set-sizes",
        "a large lognormal set (# low, # moderate and high) and a small one of #",
        [
            total_samples("paper004-low-large"),
            every(total_samples("paper004-moderate-large"), total_samples("paper004-high-large")),
            every(*(total_samples(f"paper004-{c}-small") for c in LEVELS)),
        ],
    )
    _prose(
        "held-out-count",
        "measured on the same # held-out coefficients",
        [every(*(held_out(MAIN, r, "l2_relative", "n") for r in PLAIN_ROWS))],
    )
    _prose(
        "hierarchical-sizes",
        "Hierarchical sets of # representative λ x # per contrast",
        [
            every(*(hierarchical_shape(c)[0] for c in LEVELS)),
            lambda: tuple(n for c in LEVELS for n in per_lambda(c)()),
        ],
    )


@CASES.guarded
def schedules():
    plain, large = schedule("paper004"), schedule("paper004-large")
    _prose(
        "schedule-paper004",
        "(step sizes #, #, #, each until the validation loss improves by less than # % in two "
        "epochs, at most # epochs)",
        [const(lr) for _, lr in plain.stages]
        + [const(100 * plain.plateau[1]), const(plain.epochs)],
    )
    epochs_per_stage = [
        b - a for (a, _), (b, _) in zip(large.stages, [*large.stages[1:], (large.epochs, 0)])
    ]
    _prose(
        "schedule-large",
        "`paper004-large` on the #-coefficient sets (# epochs, # / # / # per step size",
        [total_samples("paper004-high-large"), const(large.epochs)]
        + [const(e) for e in epochs_per_stage],
    )
    _prose(
        "evaluation-counts",
        "the errors over # held-out coefficients",
        [every(*(held_out(MAIN, r, "l2", "n") for r in PLAIN_ROWS))],
    )
    _prose(
        "mc-samples",
        "PG-LOD and NN-LOD over M = # fresh samples",
        [every(*(mc(MAIN, f"exp{i}H", "samples") for i in (1, 2, 3)))],
    )


@CASES.guarded
def row_sums():
    amd, intel = "exp1-large", "exp1-large"
    _prose(
        "two-machines",
        "(median # against #) and the larger held-out relative L² error (median # against #), "
        "with test losses # % apart (# against #) and medians of ‖S_A − Ŝ_A‖₂ # % apart (# "
        "against #;",
        [
            held_out(MAIN, amd, "row_sum_bias"),
            held_out(INTEL, intel, "row_sum_bias"),
            held_out(MAIN, amd, "l2_relative"),
            held_out(INTEL, intel, "l2_relative"),
            relative_change(field(INTEL, intel, "test_loss"), field(MAIN, amd, "test_loss")),
            field(MAIN, amd, "test_loss"),
            field(INTEL, intel, "test_loss"),
            relative_change(held_out(INTEL, intel, "spectral"), held_out(MAIN, amd, "spectral")),
            held_out(MAIN, amd, "spectral"),
            held_out(INTEL, intel, "spectral"),
        ],
    )
    _prose(
        "two-machines-projected",
        "Projected, the two are # and # (",
        [held_out(PROJECTED_AMD, amd, "l2_relative"), held_out(PROJECTED, intel, "l2_relative")],
    )
    _prose(
        "projected-small",
        "both below the small set's #:",
        [held_out(PROJECTED, "exp1-small", "l2_relative")],
    )


def _hierarchical_training(case: str, row: str, level: str, template: str, keys):
    n_lambda, per_lambda = hierarchical_shape(level)
    values = [total_samples(f"paper004-hierarchical-{level}"), n_lambda, per_lambda]
    _prose(case, template, values + [field(MAIN, row, k) for k in keys])


@CASES.guarded
def hierarchical_low():
    _hierarchical_training(
        "1H-training",
        "exp1H",
        "low",
        "trained on # hierarchical coefficients (# representative λ x #) to the #-epoch cap "
        "(the plateau rule did not end it; # steps)",
        ("epochs", "optimiser_steps"),
    )
    _prose(
        "1H-errors",
        "test loss #, held-out relative L² median # (10 / 90 % # / #), four times smaller than "
        "the lognormal exp1-large network it started from (#), with a row-sum bias at the level "
        "of the noise (median #, 10 / 90 % ±#; exp1-large: #)",
        [field(MAIN, "exp1H", "test_loss"), *quantiles(MAIN, "exp1H", "l2_relative")]
        + [held_out(MAIN, "exp1-large", "l2_relative"), held_out(MAIN, "exp1H", "row_sum_bias")]
        + [
            every(
                held_out(MAIN, "exp1H", "row_sum_bias", "q10", scale=-1.0),
                held_out(MAIN, "exp1H", "row_sum_bias", "q90"),
            ),
            held_out(MAIN, "exp1-large", "row_sum_bias"),
        ],
    )
    _prose(
        "1H-mc",
        "Monte Carlo means over M = # (`exp1H-mc.png`): max |E û − E u_PG-LOD| = # ± # (95 %), "
        "# % of max E u_FEM = #, and PG-LOD's mean is within # % of FEM's",
        monte_carlo("exp1H"),
    )
    _prose(
        "1H-bound",
        'Sec. 6.1 ("close", our bound # %) holds, and with the interval added (# %)',
        [
            _close_percent(),
            mc_percent(MAIN, "exp1H", "max_abs_mean_nnlod_minus_pglod", "ci95_nnlod_minus_pglod"),
        ],
    )
    _prose(
        "1H-projected",
        "the held-out relative L² median falls from # to # and max |E û − E u_PG-LOD| from # to #.",
        [projection("exp1H")[k] for k in ("l2", "l2 projected", "mc", "mc projected")],
    )


@CASES.guarded
def hierarchical_moderate():
    _hierarchical_training(
        "2H-training",
        "exp2H",
        "moderate",
        "trained on # hierarchical coefficients (# representative λ x #) to the #-epoch cap "
        "(# steps)",
        ("epochs", "optimiser_steps"),
    )
    _prose(
        "2H-errors",
        "test loss #, held-out relative L² median # (10 / 90 % # / #), with a systematic "
        "positive row-sum bias (median #, 10 / 90 % # / #)",
        [field(MAIN, "exp2H", "test_loss"), *quantiles(MAIN, "exp2H", "l2_relative")]
        + quantiles(MAIN, "exp2H", "row_sum_bias"),
    )
    _prose(
        "2H-mc",
        "Monte Carlo means over M = # (`exp2H-mc.png`): max |E û − E u_PG-LOD| = # ± # (95 %), "
        "# % of max E u_FEM = #, and PG-LOD within # % of FEM at the coarse nodes: Sec. 6.2 "
        '("close", our bound # %) holds, decided by the whole interval (# % at its upper end; '
        "ratio #, so",
        monte_carlo("exp2H")
        + [
            _close_percent(),
            mc_percent(MAIN, "exp2H", "max_abs_mean_nnlod_minus_pglod", "ci95_nnlod_minus_pglod"),
            ratio(
                mc(MAIN, "exp2H", "ci95_nnlod_minus_pglod"),
                mc(MAIN, "exp2H", "max_abs_mean_nnlod_minus_pglod"),
            ),
        ],
    )
    _prose(
        "2H-undershoot",
        "(max E û = # against # ± #)",
        fem_interval(MAIN, "exp2H"),
    )
    _prose(
        "2H-projected",
        "the held-out relative L² median falls from # to # (#x), max |E û − E u_PG-LOD| from # "
        "to #, and max E û = # lies inside",
        list(projection("exp2H").values()),
    )


@CASES.guarded
def hierarchical_high():
    _hierarchical_training(
        "3H-training",
        "exp3H",
        "high",
        "trained on # hierarchical coefficients (# representative λ x #), stopped by the "
        "plateau rule after # epochs (# steps)",
        ("epochs", "optimiser_steps"),
    )
    _prose(
        "3H-errors",
        "(held-out relative L² median #, 10 / 90 % # / #) with a row-sum bias of the other sign "
        "(median #)",
        [*quantiles(MAIN, "exp3H", "l2_relative"), held_out(MAIN, "exp3H", "row_sum_bias")],
    )
    _prose(
        "3H-mc",
        "(max E û = # against max E u_FEM = # ± #, M = #)",
        [*fem_interval(MAIN, "exp3H"), mc(MAIN, "exp3H", "samples")],
    )
    _prose(
        "3H-projected",
        "has the held-out relative L² median # (#x smaller), max |E û − E u_PG-LOD| # against #, "
        "and max E û = #, inside",
        [
            projection("exp3H")[k]
            for k in ("l2 projected", "l2 gain", "mc projected", "mc", "max nnlod projected")
        ],
    )
    _prose(
        "3H-spectral",
        "is the same with and without (median #)",
        [every(held_out(MAIN, "exp3H", "spectral"), held_out(PROJECTED_H, "exp3H", "spectral"))],
    )


def interval(row: str):
    """ "E û − E u_PG-LOD is # with half-width # (ratio #; 10 % would take M = #)"."""
    nn, nn_ci = "max_abs_mean_nnlod_minus_pglod", "ci95_nnlod_minus_pglod"
    return [
        mc(MAIN, row, nn),
        mc(MAIN, row, nn_ci),
        ratio(mc(MAIN, row, nn_ci), mc(MAIN, row, nn)),
        const(10),
        lambda: _samples_for_interval(
            mc(MAIN, row, "samples")(), mc(MAIN, row, nn_ci)(), mc(MAIN, row, nn)(), 0.1
        ),
    ]


@CASES.guarded
def enough_samples():
    nn, pg = "max_abs_mean_nnlod_minus_pglod", "max_abs_mean_pglod_minus_fem_at_coarse_nodes"
    nn_ci, pg_ci = "ci95_nnlod_minus_pglod", "ci95_pglod_minus_fem"
    _prose(
        "M-3H",
        "for 3-H, E û − E u_PG-LOD is # with half-width # (ratio #; # % would take M = #); the "
        "overshoot of # is",
        interval("exp3H") + [mc(MAIN, "exp3H", nn)],
    )
    _prose(
        "M-3H-pglod",
        "E u_PG-LOD − E u_FEM (#, ratio #)",
        [mc(MAIN, "exp3H", pg), ratio(mc(MAIN, "exp3H", pg_ci), mc(MAIN, "exp3H", pg))],
    )
    bound = lambda: _close_percent()() / 100.0 * mc(MAIN, "exp1H", "max_mean_fem")()  # noqa: E731
    _prose(
        "M-1H",
        "For 1-H, E û − E u_PG-LOD is # with half-width # (ratio #; # % would take M = #): the "
        "difference itself is known only to ±# %, but the verdict compares it with # % of the "
        "mean, #, # times larger",
        interval("exp1H")
        + [
            lambda: 100.0 * mc(MAIN, "exp1H", nn_ci)() / mc(MAIN, "exp1H", nn)(),
            _close_percent(),
            bound,
            lambda: bound() / (mc(MAIN, "exp1H", nn)() + mc(MAIN, "exp1H", nn_ci)()),
        ],
    )


def _structured_bullet(case: str, row: str, template: str, extra=()):
    """One bullet of the structured paragraph: its schedule, then test loss, ‖S_A − Ŝ_A‖₂ and
    the held-out relative L² (median [10 %, 90 %]) against the plain network's."""
    _prose(
        case,
        template,
        [field(STRUCTURED, row, "epochs"), field(STRUCTURED, row, "optimiser_steps")]
        + [field(STRUCTURED, row, "test_loss"), field(MAIN, row, "test_loss")]
        + [held_out(STRUCTURED, row, "spectral"), held_out(MAIN, row, "spectral")]
        + quantiles(STRUCTURED, row, "l2_relative")
        + quantiles(MAIN, row, "l2_relative")
        + list(extra),
    )


def structured_against(row: str, path: str, other: str):
    """The structured network's held-out relative L² median, then another row's."""
    return [held_out(STRUCTURED, row, "l2_relative"), held_out(path, other, "l2_relative")]


def structured_gain(row: str):
    """How many times smaller the structured network's held-out relative L² median is."""
    return ratio(*reversed(structured_against(row, MAIN, row)))


@CASES.guarded
def structured_high():
    row = "exp3-large"
    _structured_bullet(
        "structured-high",
        row,
        "high contrast (# epochs, # steps): test loss # against the plain network's #, "
        "‖S_A − Ŝ_A‖₂ median # against #, and a held-out relative L² median of # [#, #] against "
        "# [#, #]: # times smaller, with its row sums zero by construction (bias #)",
        [structured_gain(row), held_out(STRUCTURED, row, "row_sum_bias")],
    )
    _prose(
        "structured-high-small",
        "(# against the small set's #)",
        structured_against(row, MAIN, "exp3-small"),
    )


@CASES.guarded
def structured_low():
    row = "exp1-large"
    _structured_bullet(
        "structured-low",
        row,
        "low contrast (to the #-epoch cap, # steps; the plateau rule did not end it): test loss "
        "# against #, ‖S_A − Ŝ_A‖₂ median # against #, held-out relative L² median # [#, #] "
        "against # [#, #], row-sum bias # against #",
        [held_out(STRUCTURED, row, "row_sum_bias"), held_out(MAIN, row, "row_sum_bias")],
    )
    _prose(
        "structured-low-small",
        "holds with it (# against the plain small network's #;",
        structured_against(row, MAIN, "exp1-small"),
    )
    _prose(
        "structured-low-projected",
        "the structured network's # beside the projected plain network's #",
        structured_against(row, PROJECTED_AMD, row),
    )


@CASES.guarded
def structured_moderate():
    row, float32 = "exp2-large", "float16/float32-exp2-large-projected.json"
    _structured_bullet(
        "structured-moderate",
        row,
        "moderate contrast (# epochs, # steps): test loss # against #, ‖S_A − Ŝ_A‖₂ median # "
        "against #, held-out relative L² median # [#, #] against # [#, #]: # times smaller, "
        "row-sum bias # against #.",
        [structured_gain(row)]
        + [held_out(path, row, "row_sum_bias") for path in (STRUCTURED, MAIN)],
    )
    small = "exp2-small"
    _prose(
        "structured-moderate-margins",
        "(test loss against the small set's #x instead of #x, relative L² #x instead of #x)",
        [
            ratio(field(STRUCTURED, row, "test_loss"), field(MAIN, small, "test_loss")),
            ratio(field(MAIN, row, "test_loss"), field(MAIN, small, "test_loss")),
            ratio(held_out(STRUCTURED, row, "l2_relative"), held_out(MAIN, small, "l2_relative")),
            ratio(held_out(MAIN, row, "l2_relative"), held_out(MAIN, small, "l2_relative")),
        ],
    )
    _prose(
        "structured-moderate-projected",
        "the same # held-out coefficients) has a median of #, and the structured network is "
        "below it on # of the # coefficients (median ratio #).",
        [held_out(float32, row, "l2_relative", "n"), held_out(float32, row, "l2_relative")]
        + paired(STRUCTURED, float32, row),
    )
    _prose(
        "structured-moderate-plain-spread",
        "but a wide spread (10 / 90 % # / #)",
        quantiles(MAIN, row, "row_sum_bias")[1:],
    )
    _prose(
        "structured-low-paired",
        "(At low contrast the structured network is below the projected one on # of #, median "
        "ratio #.)",
        paired(STRUCTURED, PROJECTED_AMD, "exp1-large"),
    )


@CASES.guarded
def stall():
    _prose(
        "stall-30",
        "(epoch #: train #, validation #, the lowest",
        [
            field(MAIN, "exp3-small", "epochs"),
            history(MAIN, "exp3-small", "train_loss", 30),
            history(MAIN, "exp3-small", "val_loss", 30),
        ],
    )
    val30, val60 = (cap60("history.json", "val_loss", e - 1) for e in (30, 60))
    train30, train60 = (cap60("history.json", "train_loss", e - 1) for e in (30, 60))
    _prose(
        "stall-60",
        "from # to # (−# %) while the training loss falls from # to # (−# %); the step size "
        "stayed at # throughout",
        [val30, val60, relative_change(val30, val60), train30, train60]
        + [relative_change(train30, train60)]
        + [every(*(cap60("history.json", "lr", e) for e in range(30, 60)))],
    )
    _prose(
        "stall-gap",
        "validation over training # at epoch #, # at epoch #.",
        [
            ratio(val30, train30),
            const(30),
            ratio(val60, train60),
            cap60("test_loss.json", "epochs"),
        ],
    )
    _prose(
        "stall-test-loss",
        "The #-epoch network's test loss, # (# epochs: #), stays twice the large set's #.",
        [
            cap60("test_loss.json", "epochs"),
            cap60("test_loss.json", "test_loss"),
            field(MAIN, "exp3-small", "epochs"),
            field(MAIN, "exp3-small", "test_loss"),
            field(MAIN, "exp3-large", "test_loss"),
        ],
    )


@CASES.guarded
def storage():
    main = lambda: {"exp2-large": _json(MAIN)["exp2-large"]}  # noqa: E731
    f16 = changes(main, field("float16/float16-exp2-large.json"), "exp2-large")
    f16p = changes(
        field("float16/float32-exp2-large-projected.json"),
        field("float16/float16-exp2-large-projected.json"),
        "exp2-large",
    )
    _prose(
        "float16",
        "the exp2-large network's errors ‖S_A − Ŝ_A‖₂ move by at most # %, but the relative L² "
        "errors of its solutions by up to # % over the held-out coefficients and # % on the "
        "fresh one",
        [
            f16("held-out spectral", "spectral"),
            f16("held-out l2_relative"),
            f16("l2_relative"),
        ],
    )
    _prose(
        "float16-row-sums",
        "(held-out median row-sum bias # in float32, # in float16)",
        [
            held_out(MAIN, "exp2-large", "row_sum_bias"),
            held_out("float16/float16-exp2-large.json", "exp2-large", "row_sum_bias"),
        ],
    )
    solution = ("held-out l2", "held-out l2_relative", "l2", "l2_relative")
    _prose(
        "float16-projected",
        "float16 moves the solution errors by at most # % instead of # % (held-out relative L² "
        "median # against float32's #;",
        [
            f16p(*solution),
            f16("held-out l2_relative"),
            held_out("float16/float16-exp2-large-projected.json", "exp2-large", "l2_relative"),
            held_out("float16/float32-exp2-large-projected.json", "exp2-large", "l2_relative"),
        ],
    )
    _prose(
        "float32-before",
        "by up to # (relative; `float32.md` as committed in 5317456)",
        [largest_change_in_markdown("5317456", "demos/results/paper004_paper/float32.md")],
    )


@CASES.parametrize()
def test_readme_number_is_its_source_rounded(printed, problem, value):
    check(printed, problem, value)


def test_every_paragraph_with_results_has_cases():
    """The builders above found their text: a README rewritten without them fails here too."""
    assert len(CASES.cases) >= 150, len(CASES.cases)
