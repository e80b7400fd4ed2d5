"""Error statistics of NN-LOD over many held-out coefficients of one family (papers 000, 004).

One coefficient's error is not a result: two networks of nearly equal test loss can give very
different L² errors on one sample. For a fixed set of held-out samples (indices far beyond every
dataset) this measures per sample

* ``spectral``: ‖S_A − Ŝ_A‖₂;
* ``l2`` and ``l2_relative``: ‖u_h − û_h‖_{L²(D)} and its ratio to ‖u_h‖_{L²(D)};
* ``row_sum_bias``: the mean row sum of Ŝ_A over the coarse nodes at least ℓ+2 elements away
  from ∂D, where every row of the exact S_A sums to zero (constants are in its kernel); a bias
  there shifts the whole solution. ``row_sum_bias_pglod`` is the same for S_A (round-off);
* ``spectral_relative``: ‖S_A − Ŝ_A‖₂ / ‖S_A‖₂;
* ``local_relative``: the mean over T of ‖Ψ(R_T(A)) − S_{A,T}‖_F / ‖S_{A,T}‖_F,

and summarises each by its median, 10 / 90 % quantiles, mean, minimum and maximum. The
surrogate's dimension (2 or 3) decides the samples' (``fields.sample(..., dim)``).
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI

from lod_fenicsx.assembly import local_to_global_coo
from plumbing.checks import check_flag, check_instance, check_real_array, check_size
from plumbing.cli import collective
from lod_fenicsx.loads import rhs_function
from nn_compress.fields import get_family, sample
from nn_compress.surrogate import NNLODSurrogate, compare

HELD_OUT_START = 2_000_000  # sample indices of the statistics: never in a dataset or an experiment
QUANTITIES = ("spectral", "l2", "l2_relative", "row_sum_bias", "row_sum_bias_pglod")
#: Also measured by ``error_distribution`` (after QUANTITIES, which the 2-D tables list).
RELATIVE_QUANTITIES = ("spectral_relative", "local_relative")


def deep_interior_row_sums(
    local: np.ndarray, elements: np.ndarray, n_coarse: int, ell: int
) -> np.ndarray:
    """Row sums of Σ_T π_T S_{A,T} φ_Tᵀ at the nodes ≥ ℓ+2 elements from ∂D (d from the 2^d
    columns of the local matrices), as an array over those nodes.

    Partial sums: over ``elements`` only.
    """
    dim = 3 if np.shape(local)[-1] == 8 else 2
    rows, _, vals = local_to_global_coo(local, elements, n_coarse, ell)
    shape = (n_coarse + 1,) * dim
    sums = np.bincount(rows, weights=vals, minlength=np.prod(shape)).reshape(shape)
    k = ell + 2
    return sums[(slice(k, n_coarse + 1 - k),) * dim]


def local_relative_error(local_hat: np.ndarray, local: np.ndarray) -> float:
    """Mean over T of ‖Ŝ_{A,T} − S_{A,T}‖_F / ‖S_{A,T}‖_F (local matrices ``(k, rows, 2^d)``)."""
    axes = (1, 2)
    num = np.linalg.norm(np.asarray(local_hat) - local, axis=axes)
    return float(np.mean(num / np.linalg.norm(local, axis=axes)))


def error_distribution(
    comm: MPI.Comm,
    surrogate: NNLODSurrogate,
    family: str,
    count: int = 50,
    base_seed: int = 20220529,
    rhs="one",
    start: int = HELD_OUT_START,
    patch_solver=None,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """Per-sample errors of ``count`` held-out samples of ``family``, in sample order.

    Sample i is solved on rank ``i % comm.size`` on COMM_SELF; the arrays are on every rank.
    Keys: QUANTITIES and RELATIVE_QUANTITIES. ``progress``: a bar on rank 0 (default: when its
    standard error is a terminal; quiet in a pipe or a log).

    Parameters
    ----------
    comm : MPI.Comm
        Ranks that share the samples.
    surrogate : NNLODSurrogate
        The network's surrogate; its (N_H, n, ℓ, d) set the discretization.
    family : str
        A name of ``nn_compress.FAMILIES``.
    count : int
        Number of held-out samples.
    base_seed : int
        Base seed of the samples.
    rhs : str
        Right-hand side, a name of ``lod_fenicsx.RHS``.
    start : int
        Index of the first sample (by default far beyond every dataset's indices).
    patch_solver : PatchSolver, optional
        A solver for the same discretization, to reuse its set-up.
    progress : bool, optional
        Show a progress bar on rank 0.

    Returns
    -------
    dict of str to numpy.ndarray
        One array of shape ``(count,)`` per quantity: ``spectral`` (‖S_A − Ŝ_A‖₂), ``l2``
        (‖u_h − û_h‖ in L²(D)), ``l2_relative``, ``row_sum_bias`` (of Ŝ_A),
        ``row_sum_bias_pglod`` (of S_A), ``spectral_relative``, ``local_relative``.
    """
    import sys
    from lod_fenicsx.corrector import PatchSolver
    from lod_fenicsx.discretization import Discretization

    s = check_instance("surrogate", surrogate, NNLODSurrogate)
    get_family(family)
    count, start = check_size("count", count), check_size("start", start, 0)
    base_seed = check_size("base_seed", base_seed, 0)
    rhs_function(rhs)
    check_instance("patch_solver", patch_solver, (PatchSolver, type(None)), "PatchSolver or None")
    progress = None if progress is None else check_flag("progress", progress)
    disc = Discretization(MPI.COMM_SELF, s.n_coarse, s.n_sub, fine=False, dim=s.dim)
    ps = patch_solver or PatchSolver(s.n_coarse, s.n_sub, s.ell, dim=s.dim)
    out = {q: np.zeros(count) for q in QUANTITIES + RELATIVE_QUANTITIES}
    elements = np.arange(s.n_coarse**s.dim)
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if comm.rank == 0 and progress:
        from tqdm import tqdm

        bar = tqdm(total=count, unit="sample", desc=f"held-out {family}")
    try:
        with collective(comm):  # a sample failing on one rank ends them all: none waits
            for i in range(comm.rank, count, comm.size):
                smp = sample(family, start + i, base_seed, s.n_coarse * s.n_sub, s.dim)
                a, x = smp.coefficient, smp.network_input
                res = compare(MPI.COMM_SELF, s, a, x, rhs=rhs, disc=disc, patch_solver=ps)
                out["spectral"][i] = res.spectral_error
                out["spectral_relative"][i] = res.spectral_error / res.spectral_norm_pglod
                out["local_relative"][i] = local_relative_error(res.local_nnlod, res.local_pglod)
                out["l2"][i] = res.l2_error
                out["l2_relative"][i] = res.l2_error / res.l2_norm_pglod
                for key, local in (
                    ("row_sum_bias", res.local_nnlod),
                    ("row_sum_bias_pglod", res.local_pglod),
                ):
                    sums = deep_interior_row_sums(local, elements, s.n_coarse, s.ell)
                    out[key][i] = (
                        sums.mean() if sums.size else np.nan
                    )  # none on grids below 2ℓ + 4 elements
                if bar is not None:  # rank 0's samples stand for the round of every rank
                    bar.update(min(comm.size, count - i))
    finally:
        if bar is not None:
            bar.close()
        if patch_solver is None:
            ps.close()
    return {q: comm.allreduce(v, op=MPI.SUM) for q, v in out.items()}


def summarize(values) -> dict[str, float]:
    """Median, 10 % and 90 % quantiles, mean, minimum, maximum and count of a sample of errors.

    Parameters
    ----------
    values : array_like
        The errors, one per sample (any shape; flattened).

    Returns
    -------
    dict
        ``median``, ``q10``, ``q90``, ``mean``, ``min``, ``max`` (floats) and ``n`` (int).

    Examples
    --------
    >>> summarize([1.0, 2.0, 3.0, 4.0])["median"]
    2.5
    """
    v = check_real_array("values", values, finite=False)  # NaN: a quantity not defined there
    if v.size == 0:
        raise ValueError("values is empty: nothing to summarise")
    q10, med, q90 = np.quantile(v, [0.1, 0.5, 0.9])
    return {
        "median": float(med),
        "q10": float(q10),
        "q90": float(q90),
        "mean": float(v.mean()),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def summary_text(stats: dict) -> str:
    """``median [q10, q90]`` of one summarised quantity, for tables."""
    return f"{stats['median']:.2e} [{stats['q10']:.2e}, {stats['q90']:.2e}]"


def statistics_record(values: dict[str, np.ndarray], **about) -> dict:
    """What the experiment tables store of a distribution: summaries, the raw values, ``about``."""
    return {
        **about,
        "summary": {q: summarize(v) for q, v in values.items()},
        "values": {q: np.asarray(v).tolist() for q, v in values.items()},
    }


def statistics_table(rows: dict[str, dict], quantities=QUANTITIES[:-1]) -> list[str]:
    """Markdown lines of a table of summarised distributions, one row per ``{label: record}``."""
    names = {
        "spectral": "‖S_A − Ŝ_A‖₂",
        "l2": "‖u_h − û_h‖_L²",
        "l2_relative": "relative L²",
        "row_sum_bias": "row-sum bias Ŝ_A",
        "row_sum_bias_pglod": "row-sum bias S_A",
        "spectral_relative": "‖S_A − Ŝ_A‖₂ / ‖S_A‖₂",
        "local_relative": "mean_T ‖Ŝ_T − S_T‖_F / ‖S_T‖_F",
    }
    lines = [
        "Over held-out samples of the same family (median [10 %, 90 %] quantiles; row-sum bias: "
        "mean row sum of Ŝ_A at the nodes ≥ ℓ+2 elements from ∂D, where those of S_A vanish):",
        "",
        "| experiment | samples | " + " | ".join(names[q] for q in quantities) + " |",
        "|---|---|" + "---|" * len(quantities),
    ]
    for label, record in rows.items():
        sm = record["summary"]
        lines.append(
            f"| {label} | {sm['l2']['n']} | "
            + " | ".join(summary_text(sm[q]) for q in quantities)
            + " |"
        )
    return lines


def samples_for_interval(samples: int, half_width: float, difference: float, fraction: float):
    """Monte Carlo samples at which a 95 % half-width measured with ``samples`` would shrink to
    ``fraction`` of ``difference`` (the half-width falls as 1 / sqrt(M)); at least 1.

    >>> samples_for_interval(200, 0.02, 0.1, 0.1)  # 20 % of the difference at M = 200
    800
    """
    return max(1, math.ceil(samples * (half_width / (fraction * difference)) ** 2))


def monte_carlo_table(rows: dict[str, dict], fraction: float = 0.1) -> list[str]:
    """Markdown lines: per hierarchical row (``{label: row["monte_carlo"]}``), each difference of
    means reported (NN-LOD − PG-LOD, PG-LOD − FEM: the largest over the coarse nodes) beside the
    largest 95 % half-width of that paired difference, their ratio, and the M at which the
    half-width would be ``fraction`` of the difference: whether M was enough, from the spread
    measured."""
    lines = [
        f"Whether M is enough: each difference of Monte Carlo means (its largest over the coarse "
        f"nodes) beside the largest 95 % half-width of the paired difference, and the M at "
        f"which that half-width would be {fraction:.0%} of the difference (half-widths fall as "
        f"1/√M):",
        "",
        "| experiment | M | difference | largest absolute value | 95 % half-width | ratio | "
        f"M for {fraction:.0%} |",
        "|---|---|---|---|---|---|---|",
    ]
    pairs = (
        ("E û − E u_PG-LOD", "max_abs_mean_nnlod_minus_pglod", "nnlod_minus_pglod"),
        ("E u_PG-LOD − E u_FEM", "max_abs_mean_pglod_minus_fem_at_coarse_nodes", "pglod_minus_fem"),
    )
    for label, mc in rows.items():
        m = mc["samples"]
        for name, diff, hw in pairs:
            d, h = mc[diff], mc.get(f"ci95_{hw}")  # rows from before the intervals have none
            if h is None or not d:
                half, ratio, need = ("not recorded" if h is None else f"{h:.2e}"), "—", "—"
            else:
                half, ratio, need = (
                    f"{h:.2e}",
                    f"{h / d:.2f}",
                    samples_for_interval(m, h, d, fraction),
                )
            lines.append(f"| {label} | {m} | {name} | {d:.2e} | {half} | {ratio} | {need} |")
    return lines


#: Entries of a results row that are not errors of the network: its training record (the same
#: in both files when the rows come from exported networks), the sample, counts and times, and
#: signed quantities near zero whose relative change means nothing.
NOT_ERRORS = frozenset(
    {
        "history", "params", "contrast", "median_contrast", "samples", "n", "epochs",
        "optimiser_steps", "seconds", "evaluation_seconds", "train_loss", "val_loss",
        "test_loss", "test_loss_by_file", "row_sum_bias", "row_sum_bias_pglod", "max_mean_fem",
        "max_mean_pglod", "max_abs_mean_pglod_minus_fem_at_coarse_nodes", "ci95_mean_fem",
        "ci95_pglod_minus_fem",
    }
)  # fmt: skip


def result_changes(before: dict, after: dict, skip=NOT_ERRORS) -> dict[str, dict]:
    """Per row of two results tables (``table.json`` of the experiment demos): the largest
    relative change |b − a| / |a| over the error values both rows report, and where it is;
    ``by_quantity``, the largest change per quantity (a leaf's path, the summaries of the
    held-out statistics gathered under ``held-out <error>``).

    The values are the numeric leaves under the same path in both rows, ``skip`` keys left out
    at any depth (by default what is not an error of the network: ``NOT_ERRORS``).

    >>> a = {"r": {"l2": 2.0, "statistics": {"summary": {"l2": {"median": 1.0}}}, "seconds": 5}}
    >>> b = {"r": {"l2": 2.02, "statistics": {"summary": {"l2": {"median": 0.99}}}, "seconds": 9}}
    >>> c = result_changes(a, b)["r"]
    >>> round(c["max"], 6), c["where"], c["values"]
    (0.01, 'l2', 2)
    >>> {k: round(v, 6) for k, v in c["by_quantity"].items()}
    {'held-out l2': 0.01, 'l2': 0.01}
    """

    def leaves(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in skip:
                    yield from leaves(value, (*path, key))
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield ".".join(path), float(node)

    out = {}
    for key in before.keys() & after.keys():
        a, b = dict(leaves(before[key])), dict(leaves(after[key]))
        common = [p for p in a.keys() & b.keys() if a[p] != 0 and b[p] == b[p]]  # not NaN
        changes = {p: abs(b[p] - a[p]) / abs(a[p]) for p in common}
        if changes:
            where = max(sorted(changes), key=changes.get)
            by_quantity: dict[str, float] = {}
            for p, change in changes.items():
                q = p.split(".")
                q = f"held-out {q[2]}" if q[:2] == ["statistics", "summary"] else p
                by_quantity[q] = max(change, by_quantity.get(q, 0.0))
            out[key] = {
                "max": changes[where],
                "where": where,
                "values": len(changes),
                "by_quantity": dict(sorted(by_quantity.items())),
            }
    return dict(sorted(out.items()))
