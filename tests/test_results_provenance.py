"""The numbers of ``demos/results/nn_compress/README.md`` against the files they come from.

Issue 19, item 6: every result quoted in that README is a field of a committed result file
(under ``demos/results/nn_compress/`` or ``benchmarks/``, written by the command the README
names) or a ratio of two such fields, printed rounded from it. Each printed number is one test
case. Tables are read by their section, column header and row labels; prose by the words around
the numbers (a template in which ``#`` stands for one number). A case passes when the printed
number is the source value rounded to the printed digits; trailing zeros of an integer of three
or more digits are not significant ("4500" stands for 4.5e3, "10" for 10 ± 0.5); integer sources
(counts, steps) must match exactly.

Sources: the result JSON files (pure file reading); the first hierarchical run, from the
committed versions of two files (``git show``, skipped without the history); the configuration
numbers (sample counts, epochs, Adam steps), from the presets and schedules in ``nn_compress``.
No experiment is run.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import re

from provenance import ReadmeCases, check, const, every, git_show, lookup, ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = "demos/results/nn_compress"
README = ROOT / RESULTS / "README.md"
_CASES = ReadmeCases(README)
_table, _row, _cell = _CASES.table, _CASES.row, _CASES.cell
_numbers, _prose, _guarded = _CASES.numbers, _CASES.prose, _CASES.guarded

# Paper 000 (Kröpfl, Maier, Peterseim 2022), Secs. 4.2-4.3: samples per family, batch size.
PAPER000_PER_FAMILY = 500
PAPER000_BATCH = 1000
# The first hierarchical run (old σ²): the committed versions of its files.
OLD_CONTRAST = ("b69db74", "benchmarks/contrast.json")
OLD_PAPER004 = ("866f72d", f"{RESULTS}/paper004_reduced.json")


# --- sources ----------------------------------------------------------------------------------


@functools.cache
def _json(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


@functools.cache
def _old_json(commit: str, path: str) -> dict:
    return json.loads(git_show(commit, path))


def field(path: str, *keys, scale: float = 1.0):
    """The value at ``keys`` of a result file (``RESULTS``-relative names, or benchmarks/...)."""
    full = path if "/" in path else f"{RESULTS}/{path}"
    return lookup(lambda: _json(full), *keys, scale=scale)


def old_field(source: tuple[str, str], *keys, scale: float = 1.0):
    def value():
        v = _old_json(*source)
        for k in keys:
            v = v[k]
        return v * scale

    return value


def summary(path: str, exp: str, network: str, quantity: str, stat: str, scale: float = 1.0):
    return field(path, exp, network, quantity, stat, scale=scale)


def _quantiles(path: str, *keys, scale: float = 1.0):
    """Median, 10 % and 90 % quantile of the summary at ``keys``."""
    return [field(path, *keys, s, scale=scale) for s in ("median", "q10", "q90")]


def stat3(path: str, exp: str, network: str, quantity: str, scale: float = 1.0):
    return _quantiles(path, exp, network, quantity, scale=scale)


# Configuration: imported when a case needs it (nn_compress.training imports torch).
@functools.cache
def _presets():
    from nn_compress.dataset import presets

    return presets()


def _train_samples(name: str) -> int:
    _, _, split = _presets()[name].sample_table()
    return int((split == 0).sum())


def _test_samples(name: str) -> int:
    _, _, split = _presets()[name].sample_table()
    return int((split == 2).sum())


def _total_samples(name: str) -> int:
    return sum(_presets()[name].families.values())


def steps(name: str, schedule: str, batch: int):
    def value():
        from nn_compress.training import SCHEDULES, optimiser_steps

        return optimiser_steps(_presets()[name], SCHEDULES[schedule].epochs, batch)

    return value


def epochs(schedule: str):
    def value():
        from nn_compress.training import SCHEDULES

        return SCHEDULES[schedule].epochs

    return value


# --- the README -------------------------------------------------------------------------------


# --- the cases --------------------------------------------------------------------------------

P000 = "paper000_reduced.json"
S000 = "paper000_reduced_structured.json"
ST0 = "structure_000.json"
ST4 = "structure_004.json"
P4 = "paper004_reduced.json"
P4P = "paper004_reduced_exp1_3.json"
P4S = "paper004_reduced_structured_exp1_3.json"
CONTRAST = "benchmarks/contrast.json"
LEVELS = ("low", "moderate", "high")
_ALL = ((ST0, "exp1"), (ST0, "exp3"), (ST4, "exp1-reduced"), (ST4, "exp3-reduced"))
_NETS = ("plain", "structured")


def _rel(st: str, exp: str, network: str):
    return summary(st, exp, network, "l2_relative", "median", 100.0)


def _rel_ratio(st: str, exp: str):
    return ratio(_rel(st, exp, "plain"), _rel(st, exp, "structured"))


@_guarded
def headline():
    for case_id, template, st, exp in (
        ("headline-000-exp1", "paper 000, Exp. 1: # % → # % (#x)", ST0, "exp1"),
        ("headline-000-exp3", "Exp. 3: # % → # % (#x;", ST0, "exp3"),
        ("headline-004-low", "paper 004, low contrast: # % → # % (#x)", ST4, "exp1-reduced"),
        ("headline-004-high", "high contrast: # % → # % (#x)", ST4, "exp3-reduced"),
    ):
        values = [_rel(st, exp, "plain"), _rel(st, exp, "structured"), _rel_ratio(st, exp)]
        _prose(case_id, template, values)
    _prose(
        "headline-samples",
        "medians over # held-out samples:",
        [every(*(summary(st, e, n, "l2", "n") for st, e in _ALL for n in _NETS))],
    )
    _prose(
        "headline-steps",
        "makes #x fewer optimiser steps",
        [
            ratio(
                steps("paper000", "paper000", PAPER000_BATCH),
                steps("paper000-reduced", "reduced000", 500),
            )
        ],
    )


@_guarded
def reduced_datasets():
    families = field(P000, "discretization", "families")
    _prose(
        "datasets",
        "hold # samples per family (paper 000: #) and # per contrast class",
        [
            lambda: tuple(families().values()),
            const(PAPER000_PER_FAMILY),
            every(*(lambda c=c: _total_samples(f"paper004-{c}-reduced") for c in LEVELS)),
        ],
    )
    disc = [field(P000, "discretization", k) for k in ("n_coarse", "n_sub", "ell")]
    _prose("datasets-discretization", "(N_H = #, n = #, ℓ = #)", disc)
    _prose(
        "datasets-ratio",
        "trained on #x less data",
        [lambda: PAPER000_PER_FAMILY / min(families().values())],
    )


@_guarded
def hierarchical():
    runs = [f"exp{i}-reduced" for i in (1, 2, 3)] + [f"exp{i}H" for i in (1, 2, 3)]
    _prose(
        "p004-epochs",
        "paper004_reduced.* (#-epoch reduced004)",
        [every(*(field(P4, r, "epochs") for r in runs))],
    )
    _prose(
        "hier-epochs",
        "retrained with the #-epoch `reduced004` schedule",
        [every(*(field(P4, f"exp{i}H", "epochs") for i in (1, 2, 3)))],
    )
    measured = ("measured_with_fields_py_sigma2", "families")
    _prose(
        "hier-old-contrast",
        "its median contrast was # / # / # (`benchmarks/contrast.json` as committed in b69db74)",
        [
            old_field(OLD_CONTRAST, *measured, f"hierarchical-{c}", "quantiles", "0.5")
            for c in LEVELS
        ],
    )
    _prose(
        "hier-sigma2",
        "SIGMA2_HIERARCHICAL` (# / # / #,",
        [field(CONTRAST, "calibrated", c, "sigma2_hierarchical") for c in LEVELS],
    )
    _prose(
        "hier-contrast",
        "median contrast of # / # / # over # samples",
        [field(CONTRAST, *measured, f"hierarchical-{c}", "quantiles", "0.5") for c in LEVELS]
        + [every(*(field(CONTRAST, *measured, f"hierarchical-{c}", "samples") for c in LEVELS))],
    )
    header, rows = _table("Hierarchical", "test loss")
    for i in (1, 2, 3):
        key, row = f"exp{i}H", _row(rows, f"{i}-H")
        mc = (key, "monte_carlo")
        _numbers(
            f"hier-table-{i}H-loss",
            _cell(header, row, "test loss"),
            [field(P4, key, "test_loss"), old_field(OLD_PAPER004, key, "test_loss")],
        )
        _numbers(
            f"hier-table-{i}H-contrast",
            _cell(header, row, "contrast of the test sample"),
            [field(P4, key, "contrast"), old_field(OLD_PAPER004, key, "contrast")],
        )
        _numbers(
            f"hier-table-{i}H-l2",
            _cell(header, row, "rel. L² error"),
            [
                field(P4, key, "l2_relative", scale=100.0),
                old_field(OLD_PAPER004, key, "l2_relative", scale=100.0),
            ],
        )
        _numbers(
            f"hier-table-{i}H-mc",
            _cell(header, row, "MC ("),
            [
                field(P4, *mc, "median_contrast"),
                field(P4, *mc, "mean_l2_error_pglod_vs_nnlod"),
                field(P4, *mc, "max_abs_mean_nnlod_minus_pglod"),
            ]
            + ([field(P4, *mc, "max_mean_fem")] if i == 1 else []),
        )
    mc_samples = [field(P4, f"exp{i}H", "monte_carlo", "samples") for i in (1, 2, 3)]
    _prose("hier-mc-samples", "MC (# samples)", [every(*mc_samples)])
    _prose(
        "hier-lognormal",
        "lognormal experiments 1-3 of the same file (# %, # %, # %)",
        [field(P4, f"exp{i}-reduced", "l2_relative", scale=100.0) for i in (1, 2, 3)],
    )
    hier = [f"paper004-hierarchical-{c}" for c in LEVELS]
    _prose(
        "hier-training-samples",
        "# training samples per class",
        [every(*(lambda n=n: _train_samples(f"{n}-reduced") for n in hier))],
    )
    totals = [lambda n=n: _total_samples(n) for n in hier]
    reduced = [lambda n=n: _total_samples(f"{n}-reduced") for n in hier]
    _prose(
        "hier-full-presets",
        "hold # / # / # samples, # / # / # times the reduced #",
        totals + [ratio(t, r) for t, r in zip(totals, reduced)] + [every(*reduced)],
    )
    _prose(
        "hier-pglod-vs-fem",
        "stays within # / # / # of the FEM mean",
        [
            field(P4, f"exp{i}H", "monte_carlo", "max_abs_mean_pglod_minus_fem_at_coarse_nodes")
            for i in (1, 2, 3)
        ],
    )


def _comparison_table(prefix, section, st, losses, keys):
    """The plain/structured tables of paper 000 and 004: one row per experiment and network."""
    header, rows = _table(section, "row-sum bias")
    for label, key in keys:
        for network in _NETS:
            row = _row(rows, label, network)
            case = f"{prefix}-{key}-{network}"
            _numbers(f"{case}-loss", _cell(header, row, "test loss"), [losses[network](key)])
            _numbers(
                f"{case}-spectral",
                _cell(header, row, "‖S_A − Ŝ_A‖₂"),
                stat3(st, key, network, "spectral"),
            )
            _numbers(
                f"{case}-l2",
                _cell(header, row, "relative L²"),
                stat3(st, key, network, "l2_relative", 100.0),
            )
            bias = stat3(st, key, network, "row_sum_bias")
            # The structured networks' bias is round-off: only its median is printed.
            _numbers(
                f"{case}-bias",
                _cell(header, row, "row-sum bias"),
                bias if network == "plain" else bias[:1],
            )


@_guarded
def paper000():
    losses = {
        "plain": lambda k: field(P000, "test_loss"),
        "structured": lambda k: field(S000, "test_loss"),
    }
    section = "Paper 000: error distributions"
    _comparison_table("000", section, ST0, losses, (("1", "exp1"), ("3", "exp3")))
    pglod = [summary(ST0, e, "plain", "row_sum_bias_pglod", "median") for e in ("exp1", "exp3")]
    _prose("000-pglod-bias", "PG-LOD's own is # in Exp. 1 and # in Exp. 3", pglod)
    _prose(
        "000-structured-cost",
        "(`benchmarks/structured.md`: # % of a training step, # % of the online forward pass)",
        [
            field("benchmarks/structured.json", "overhead_train_step", scale=100.0),
            field("benchmarks/structured.json", "overhead_forward", scale=100.0),
        ],
    )
    _prose(
        "000-schedule-steps",
        "(`reduced000`, # Adam steps)",
        [steps("paper000-reduced", "reduced000", 500)],
    )
    spectral = [
        ratio(
            summary(ST0, e, "plain", "spectral", "median"),
            summary(ST0, e, "structured", "spectral", "median"),
        )
        for e in ("exp1", "exp3")
    ]
    _prose(
        "000-projection",
        "spectral error (#x in both experiments) and the test loss (# %)",
        [
            every(*spectral),
            lambda: 100.0 * (field(S000, "test_loss")() / field(P000, "test_loss")() - 1.0),
        ],
    )
    _prose(
        "000-l2-ratios",
        "falls #x (Exp. 1) and #x (Exp. 3 †)",
        [_rel_ratio(ST0, "exp1"), _rel_ratio(ST0, "exp3")],
    )
    paper_steps = steps("paper000", "paper000", PAPER000_BATCH)
    reduced_steps = steps("paper000-reduced", "reduced000", 500)
    families = field(P000, "discretization", "families")
    _prose(
        "000-budget",
        "With #x less data and #x fewer steps than the paper",
        [
            lambda: PAPER000_PER_FAMILY / min(families().values()),
            ratio(paper_steps, reduced_steps),
        ],
    )
    exps = ("exp1", "exp2", "exp3")
    _prose(
        "000-test-coefficients",
        "Exp. 3's from our crack family) # / # † / # † against the paper's # / # / #",
        [field(S000, "experiments", e, "l2") for e in exps]
        + [field(S000, "paper", e, "l2") for e in exps],
    )
    _prose(
        "000-held-out",
        "a median of # [#, #] (Exp. 1) and # † [#, #] (Exp. 3)",
        [
            field(S000, "statistics", e, "summary", "l2", s)
            for e in ("exp1", "exp3")
            for s in ("median", "q10", "q90")
        ],
    )
    _prose(
        "000-plain-medians",
        "the plain network's medians are # and # †",
        [field(P000, "statistics", e, "summary", "l2", "median") for e in ("exp1", "exp3")],
    )
    ours = [field(S000, "experiments", e, "spectral") for e in exps]
    paper = [field(S000, "paper", e, "spectral") for e in exps]
    _prose(
        "000-spectral-vs-paper",
        "‖S_A − Ŝ_A‖₂ (# / # / #) stays # / # / #x above the paper's (# / # / #)",
        ours + [ratio(o, p) for o, p in zip(ours, paper)] + paper,
    )

    def exp3_load_change():  # nodal interpolant against (f, λ_i) for f = cos 2πx₁, in %
        h = 1.0 / field(P000, "discretization", "n_coarse")()
        exact = (math.sin(math.pi * h) / (math.pi * h)) ** 2
        return 100.0 * (1.0 - (2.0 + math.cos(2.0 * math.pi * h)) / 3.0 / exact)

    _prose("000-load-exp3", "and Exp. 3's by # %", [exp3_load_change])
    _prose("000-load-ratio", "(with the ratio #)", [_rel_ratio(ST0, "exp3")])


@_guarded
def paper004():
    files = {"plain": P4P, "structured": P4S}
    losses = {n: (lambda k, f=f: field(f, k, "test_loss")) for n, f in files.items()}
    keys = (("1", "exp1-reduced"), ("3", "exp3-reduced"))
    _prose(
        "004-samples-per-class",
        "# samples per class, `reduced004`",
        [every(*(lambda c=c: _total_samples(f"paper004-{c}-reduced") for c in ("low", "high")))],
    )
    _comparison_table("004", "Paper 004", ST4, losses, keys)
    _prose(
        "004-steps",
        "`reduced004` (# Adam steps)",
        [every(*(field(f, k, "optimiser_steps") for f in files.values() for _, k in keys))],
    )
    _prose(
        "004-samples",
        "(plain from plain, structured from structured); # held-out samples each",
        [every(*(summary(ST4, k, n, "l2", "n") for _, k in keys for n in _NETS))],
    )
    measured = ("measured_with_fields_py_sigma2", "families", "lognormal-low", "quantiles", "0.5")
    _prose("004-low-median", "(low contrast, median #)", [field(CONTRAST, *measured)])
    _prose(
        "004-l2-ratios",
        "falls #x (low) and #x (high contrast)",
        [_rel_ratio(ST4, k) for _, k in keys],
    )
    falls = []
    for _, k in keys:
        falls.append(ratio(losses["plain"](k), losses["structured"](k)))
        falls.append(
            ratio(
                summary(ST4, k, "plain", "spectral", "median"),
                summary(ST4, k, "structured", "spectral", "median"),
            )
        )
    _prose("004-falls-too", "(#x / #x at low, #x / #x at high contrast)", falls)


@_guarded
def steps_or_data():
    _prose(
        "steps-test-samples",
        "the same # test samples",
        [lambda: _test_samples("paper000-reduced")],
    )
    _prose(
        "steps-reference",
        "the reduced preset itself (# training samples, # Adam steps)",
        [lambda: _train_samples("paper000-reduced"), steps("paper000-reduced", "reduced000", 500)],
    )
    _prose(
        "steps-reference-losses",
        "train / val / test loss (2.9) # / # / #",
        [field(P000, k) for k in ("train_loss", "val_loss", "test_loss")],
    )
    paper_steps = steps("paper000", "paper000", PAPER000_BATCH)
    reduced_steps = steps("paper000-reduced", "reduced000", 500)
    _prose("steps-paper", "The paper makes # steps", [paper_steps])
    _prose(
        "steps-paper-formula",
        "optimiser_steps`: # samples x # pairs / # x # epochs",
        [
            lambda: _train_samples("paper000"),
            lambda: field(P000, "discretization", "n_coarse")() ** 2,
            const(PAPER000_BATCH),
            epochs("paper000"),
        ],
    )
    _prose(
        "steps-paper-ratio",
        "#x the reduced run's #",
        [ratio(paper_steps, reduced_steps), reduced_steps],
    )
    header, rows = _table("Paper 000: steps or data", "schedule", "Adam steps")
    for row in rows:
        dataset, schedule, _, batch = row[:4]
        names = [dataset]
        for pattern, levels in (("<moderate, high>", ("moderate", "high")), ("<c>", LEVELS)):
            if pattern in dataset:
                names = [dataset.replace(pattern, c) for c in levels]
        batch = int(batch)
        _numbers(f"steps-table-{dataset}-epochs", _cell(header, row, "epochs"), [epochs(schedule)])
        _numbers(
            f"steps-table-{dataset}-steps",
            _cell(header, row, "Adam steps"),
            [every(*(steps(n, schedule, batch) for n in names))],
        )


# The paper-size networks' result files, by the name of their column / rows in the README.
PAPER_SIZE_FILES = {
    "plain": "paper000_paper.json",  # the paper-size plain network
    "projected": "paper000_paper_projected.json",  # the same, projected (--project-output)
    "structured": "paper000_paper_structured.json",  # the structure-preserving network
}
_PAPER_SIZE = "Paper 000 at paper size"


def _paper_size_keys(label: str) -> tuple:
    """Row label of the paper-size table -> keys of the quantity in the experiments' JSON."""
    if label.startswith("test loss"):
        return ("test_loss",)
    exp = "exp" + re.search(r"Exp\. (\d)", label).group(1)
    return (exp, "spectral" if "‖S_A" in label else "l2")


@_guarded
def paper_size():
    plain = PAPER_SIZE_FILES["plain"]
    header, rows = _table(_PAPER_SIZE, "plain / paper")
    column = {name: header.index(name) for name in header}
    for row in rows:
        keys = _paper_size_keys(row[0])
        where = keys if keys == ("test_loss",) else ("experiments", *keys)
        paper = field(plain, "paper", *keys)
        case = f"size-{'-'.join(keys)}"
        _numbers(f"{case}-paper", row[column["paper"]], [paper])
        for network, path in PAPER_SIZE_FILES.items():  # plain always, the others where shown
            if network not in column or row[column[network]] == "—":
                continue
            value = field(path, *where)
            _numbers(f"{case}-{network}", row[column[network]], [value])
            _numbers(
                f"{case}-{network}-ratio",
                row[column[f"{network} / paper"]],
                [ratio(value, paper)],
            )
    header, rows = _table(_PAPER_SIZE, "row-sum bias")
    for row in rows:
        exp, network = "exp" + row[0].split()[-1], row[1]
        path = PAPER_SIZE_FILES[network]
        for quantity, col, scale in (
            ("spectral", "‖S_A − Ŝ_A‖₂", 1.0),
            ("l2", "‖u_h − û_h‖_L²", 1.0),
            ("l2_relative", "relative L²", 100.0),
            ("row_sum_bias", "row-sum bias", 1.0),
        ):
            values = _quantiles(path, "statistics", exp, "summary", quantity, scale=scale)
            _numbers(f"size-{exp}-{network}-{quantity}", _cell(header, row, col), values)
        n = field(path, "statistics", exp, "summary", "l2", "n")
        _numbers(f"size-{exp}-{network}-samples", _cell(header, row, "samples"), [n])


P4F = "paper004_reduced_from_paper000_plain.json"  # plain, from the paper-size plain network
P4FS = "paper004_reduced_structured_from_paper000_structured.json"  # from the paper-size structured


@_guarded
def paper004_from_paper_size():
    section = "Transfer learning from the paper-size network"
    header, rows = _table(section, "initial network", "row-sum bias")
    files = {
        "reduced": P4P,
        "paper-size": P4F,
        "reduced, structured": P4S,
        "paper-size, structured": P4FS,
    }
    for row in rows:
        key = f"exp{row[0].split()[0]}-reduced"
        path = files[row[1]]
        case = f"004-from-{row[1]}-{key}"
        _numbers(f"{case}-loss", _cell(header, row, "test loss"), [field(path, key, "test_loss")])
        for quantity, col, scale in (
            ("spectral", "‖S_A − Ŝ_A‖₂", 1.0),
            ("l2_relative", "relative L²", 100.0),
            ("row_sum_bias", "row-sum bias", 1.0),
        ):
            values = _quantiles(path, key, "statistics", "summary", quantity, scale=scale)
            _numbers(f"{case}-{quantity}", _cell(header, row, col), values)

    def gain(key, quantity):
        if quantity == "test_loss":
            return ratio(field(P4P, key, "test_loss"), field(P4F, key, "test_loss"))
        stat = ("statistics", "summary", quantity, "median")
        return ratio(field(P4P, key, *stat), field(P4F, key, *stat))

    low, high = "exp1-reduced", "exp3-reduced"
    _prose(
        "004-from-paper-size-gains",
        "lowers the test loss (#x low, #x high contrast) and the relative L² error (#x, #x)",
        [
            gain(low, "test_loss"),
            gain(high, "test_loss"),
            gain(low, "l2_relative"),
            gain(high, "l2_relative"),
        ],
    )


# --- the test ---------------------------------------------------------------------------------


@_CASES.parametrize()
def test_readme_number_is_its_source_rounded(printed, problem, value):
    check(printed, problem, value)
