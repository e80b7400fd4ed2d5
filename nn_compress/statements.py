"""Paper 004's statements (Secs. 5.5–5.7, 6.1–6.3), each checked against our numbers.

Our copy of the paper lost its numbers, so what it says is checked as a set of comparisons
between our own measurements: each :class:`Statement` says whether it holds, with the numbers
compared. Input: the ``table.json`` of ``demos/paper004_experiments.py`` (rows ``exp<k>-small``,
``exp<k>-large``, ``exp<k>H``) and the loss histories of the networks behind the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plumbing.checks import check_real_array

CONTRASTS = {"1": "low", "2": "moderate", "3": "high"}
#: A Monte Carlo mean "close to" another: largest nodal difference at most this fraction of
#: the largest value of the FEM mean (our reading of "visually close" in Figs. 8-9).
CLOSE = 0.05
#: "The validation loss remains constant while the training loss continues to decrease"
#: (Sec. 5.7): from the first epoch whose validation loss is within STALL of its final lowest,
#: the training loss still falls by more than FALLS (relative).
STALL, FALLS = 0.01, 0.05


@dataclass(frozen=True)
class Statement:
    section: str
    claim: str
    holds: bool | None  # None: the rows it needs are missing
    evidence: str


def _ratio_text(a: float, b: float) -> str:
    return f"{a:.3g} vs {b:.3g} ({a / b:.2f}x)"


def stalled_while_training_falls(history: dict) -> tuple[bool, int, float, float]:
    """(holds, first stalled epoch, relative fall of the training and validation loss since).

    The first stalled epoch is the first whose validation loss is within ``STALL`` of the
    run's lowest; the statement holds when the training loss falls by more than ``FALLS``
    from there to the end while the validation loss, by construction, moves less than STALL.
    """
    val, train = np.asarray(history["val_loss"]), np.asarray(history["train_loss"])
    first = int(np.flatnonzero(val <= (1 + STALL) * val.min())[0])
    train_fall = 1.0 - train[-1] / train[first]
    val_fall = 1.0 - val[-1] / val[first]
    return bool(train_fall > FALLS), first + 1, float(train_fall), float(val_fall)


#: What the Sec. 6 statements read from a row's Monte Carlo record.
MC_KEYS = frozenset(
    {
        "samples", "max_mean_fem", "max_mean_nnlod", "max_abs_mean_nnlod_minus_pglod",
        "max_abs_mean_pglod_minus_fem_at_coarse_nodes", "ci95_nnlod_minus_pglod", "ci95_mean_fem",
    }
)  # fmt: skip


LOSSES = ("train_loss", "val_loss")


def continued(history: dict, longer: dict, what: str) -> dict:
    """``longer`` (a loss history with ``train_loss`` and ``val_loss`` per epoch), checked to be
    the run of ``history`` taken on to a higher epoch cap: more epochs, finite positive losses,
    and its first epochs those of ``history``; a ValueError in one line names ``what`` if not.
    """
    try:
        train, val = (check_real_array(f"{what}: {k}", longer[k], ndim=1) for k in LOSSES)
    except KeyError as e:
        raise ValueError(
            f"{what}: not a loss history with train_loss and val_loss (no {e})"
        ) from None
    if train.shape != val.shape or np.any(train <= 0) or np.any(val <= 0):
        raise ValueError(f"{what}: train_loss and val_loss must be lists of positive numbers")
    n = len(history["val_loss"])
    if len(val) <= n:
        raise ValueError(f"{what}: {len(val)} epochs, not more than the row's {n}")
    for name, mine in zip(LOSSES, (train, val)):
        theirs = np.asarray(history[name], dtype=float)
        same = np.isclose(mine[:n], theirs, rtol=1e-12, atol=0)
        if not same.all():
            e = int(np.flatnonzero(~same)[0])
            raise ValueError(
                f"{what}: not the row's run taken further (epoch {e + 1}: {name} "
                f"{mine[e]:.6e}, the row's {theirs[e]:.6e})"
            )
    return {"epoch": list(range(1, len(val) + 1)), "train_loss": train.tolist(),
            "val_loss": val.tolist()}  # fmt: skip


def check_statements(table: dict, histories: dict | None = None) -> list[Statement]:
    """The paper's statements against ``table`` (rows by key); ``histories`` maps a row key to
    its network's loss history (``train_loss``, ``val_loss`` per epoch)."""
    histories = histories or {}
    out = []

    def row(key):
        return table.get(key)

    def median(key, quantity="l2_relative"):
        r = row(key)
        if r is None or "statistics" not in r:
            return None
        return r["statistics"]["summary"][quantity]["median"]

    for k, c in CONTRASTS.items():
        small, large = row(f"exp{k}-small"), row(f"exp{k}-large")
        sec = f"5.{4 + int(k)}"
        if small is None or large is None:
            out.append(
                Statement(
                    sec,
                    f"{c}: the large set beats the small one",
                    None,
                    f"needs the rows exp{k}-small and exp{k}-large",
                )
            )
            continue
        out.append(
            Statement(
                sec,
                f"{c} contrast: the large set gives a lower test loss than the small one",
                large["test_loss"] < small["test_loss"],
                "test loss large vs small: " + _ratio_text(large["test_loss"], small["test_loss"]),
            )
        )
        gap_small = small["val_loss"] / small["train_loss"]
        gap_large = large["val_loss"] / large["train_loss"]
        out.append(
            Statement(
                sec,
                f"{c} contrast: training and validation loss are closer on the large set "
                "(less overfitting)",
                gap_large < gap_small,
                f"final val / train: large {gap_large:.3g}, small {gap_small:.3g}",
            )
        )
        m_small, m_large = median(f"exp{k}-small"), median(f"exp{k}-large")
        if m_small is not None and m_large is not None:
            out.append(
                Statement(
                    sec,
                    f"{c} contrast: NN-LOD's solution is closer to PG-LOD's with the large set "
                    "(the amplitude mismatch shrinks)",
                    m_large < m_small,
                    "median relative L² error over the held-out coefficients, large vs small: "
                    + _ratio_text(m_large, m_small),
                )
            )
    for size in ("small", "large"):
        losses = [row(f"exp{k}-{size}") for k in CONTRASTS]
        if all(r is not None for r in losses):
            train = [r["train_loss"] for r in losses]
            test = [r["test_loss"] for r in losses]
            out.append(
                Statement(
                    "5.5-5.7",
                    f"{size} sets: a higher contrast fits worse at a fixed amount of data "
                    "(training and test loss grow from low to moderate to high)",
                    bool(np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)),
                    "train "
                    + " < ".join(f"{v:.3g}" for v in train)
                    + "; test "
                    + " < ".join(f"{v:.3g}" for v in test),
                )
            )
    # The small high-contrast run, and that run taken on to a higher cap ("exp3-small <how>")
    for key in sorted(h for h in histories if h.split(" ", 1)[0] == "exp3-small"):
        history = histories[key]
        holds, first, train_fall, val_fall = stalled_while_training_falls(history)
        how = key.partition(" ")[2]
        out.append(
            Statement(
                "5.7",
                "small high-contrast set: the validation loss stalls while the training loss falls"
                + (f" ({how})" if how else ""),
                holds,
                f"from epoch {first} (validation within {STALL:.0%} of its lowest) to the end "
                f"({len(history['val_loss'])}): training loss −{train_fall:.1%}, validation "
                f"−{val_fall:.1%}",
            )
        )
    for k, c in CONTRASTS.items():
        mc = (row(f"exp{k}H") or {}).get("monte_carlo")
        if mc is None:
            continue
        if not MC_KEYS <= mc.keys():  # a row of a run from before the intervals were recorded
            out.append(
                Statement(
                    f"6.{k}",
                    f"hierarchical, {c} contrast: the Monte Carlo means",
                    None,
                    f"this row has no intervals (an older run): run exp{k}H again",
                )
            )
            continue
        scale = mc["max_mean_fem"]
        nn_pg = mc["max_abs_mean_nnlod_minus_pglod"] / scale
        pg_fem = mc["max_abs_mean_pglod_minus_fem_at_coarse_nodes"] / scale
        ci = mc["ci95_nnlod_minus_pglod"] / scale
        if k in ("1", "2"):
            # decided only where the whole 95 % interval of the difference is on one side
            holds = True if nn_pg + ci <= CLOSE else False if nn_pg - ci > CLOSE else None
            undecided = "; the interval straddles the bound: more samples" if holds is None else ""
            out.append(
                Statement(
                    f"6.{k}",
                    f"hierarchical, {c} contrast: the Monte Carlo mean of NN-LOD is close to "
                    "PG-LOD's and FEM's",
                    False if pg_fem > CLOSE else holds,
                    f"max abs(E û − E u_PG) = {nn_pg:.2%}, "
                    f"max abs(E u_PG − E u_FEM) = {pg_fem:.2%} of "
                    f"max E u_FEM (bound {CLOSE:.0%}; 95 % half-width of the first "
                    f"{ci:.2%}, M = {mc['samples']}{undecided})",
                )
            )
        else:
            under = mc["max_mean_nnlod"] < mc["max_mean_fem"] - mc["ci95_mean_fem"]
            out.append(
                Statement(
                    "6.3",
                    "hierarchical, high contrast: the Monte Carlo mean of NN-LOD undershoots FEM's",
                    bool(under),
                    f"max E û = {mc['max_mean_nnlod']:.4g}, max E u_FEM = "
                    f"{mc['max_mean_fem']:.4g} ± {mc['ci95_mean_fem']:.2g} (95 %, M = "
                    f"{mc['samples']})",
                )
            )
    return out


def statements_table(statements: list[Statement]) -> list[str]:
    """Markdown lines: section, claim, holds / does not hold / not checked, evidence."""
    word = {True: "holds", False: "does not hold", None: "not checked"}
    lines = ["| Sec. | statement of paper 004 | ours | numbers |", "|---|---|---|---|"]
    for s in statements:
        lines.append(f"| {s.section} | {s.claim} | {word[s.holds]} | {s.evidence} |")
    return lines


def verdicts_beside(plain: dict, other: dict, histories: dict | None = None) -> list[str]:
    """Whether another network on the large sets changes the conclusion: the statements checked
    with the plain rows, and again with the large-set rows of ``other`` (a table of the same
    experiments, e.g. the structure-preserving network's) in place of the plain ones; Markdown
    lines with both verdicts, a statement whose verdict differs marked "changed"."""
    swapped = {**plain, **{k: r for k, r in other.items() if k.endswith("-large") and k in plain}}
    word = {True: "holds", False: "does not hold", None: "not checked"}
    lines = [
        "| Sec. | statement of paper 004 | plain | with the other large-set networks | numbers "
        "(other) |",
        "|---|---|---|---|---|",
    ]
    for a, b in zip(
        check_statements(plain, histories), check_statements(swapped, histories), strict=True
    ):
        mark = " (changed)" if a.holds != b.holds and None not in (a.holds, b.holds) else ""
        lines.append(
            f"| {a.section} | {a.claim} | {word[a.holds]} | {word[b.holds]}{mark} | {b.evidence} |"
        )
    return lines
