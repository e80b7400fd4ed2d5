"""Upscaled permeability of random lognormal blocks: PG-LOD against the fine FEM (issue 32).

For a coefficient block A on D = (0,1)^d and each axis i, the flow experiment

    −div(A∇u) = 0 in D,   u = 1 on x_i = 0,   u = 0 on x_i = 1,   A∇u·ν = 0 on the other faces,

gives the permeability along i as the outflow through x_i = 1 (a unit pressure drop over a unit
length), ``lod_fenicsx.upscaling``. PG-LOD (paper 000, Sec. 3.3-3.4, with gridlod's Neumann
faces and the Dirichlet data lifted by its coarse interpolant, ``lod_fenicsx.pglod``) computes
it on N_H^d coarse elements for ℓ = 1, 2, 3, the fine Q1 FEM on the fine grid is the reference.
Beside them, in 2-D, the REV upscaling of the hybrid paper (eq. (43), V = Ω: cell problems with
u = x_i on the whole boundary, ``hybrid_pinn.upscaling``): its diagonal is another upscaling,
with other boundary conditions, not an approximation of the same number.

The coefficients are the lognormal fields of paper 004, Sec. 5 (A = exp(g), Whittle–Matérn
g with λ = 2⁻⁵, the three contrast classes 10, 10², 10³; ``nn_compress.fields``): ``--samples``
per contrast in 2-D and ``--samples-3d`` of the moderate class in 3-D.

    ./run python3 demos/upscaled_permeability.py                       # 2-D 50 x 3, 3-D 10
    ./run python3 demos/upscaled_permeability.py --samples 2 --samples-3d 0 --out /tmp/k  # quick

Each sample is appended to ``samples.jsonl`` in ``--out`` as it is done, so a rerun resumes;
then ``table.md`` (median and 10 / 90 % of the relative error (K_LOD − K_fine) / K_fine, pooled
over the axes, per contrast and ℓ, and the time per sample of each method) and ``errors.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import sys
import time

import numpy as np
from mpi4py import MPI

from plumbing.cli import check_at_least, check_writable, run
from plumbing.readers import read_jsonl, refusal
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.upscaling import fine_upscaled_permeability, upscaled_permeability
from nn_compress.fields import CONTRASTS, TARGET_CONTRAST, sample

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "results" / "upscaled_permeability"
BASE_SEED = 32  # the number: these samples are not in any training set


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="demos/upscaled_permeability.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--samples", type=int, default=50, help="2-D samples per contrast")
    parser.add_argument("--samples-3d", type=int, default=10, help="3-D samples (moderate)")
    parser.add_argument("--n-coarse", type=int, default=16, help="2-D coarse elements N_H")
    parser.add_argument("--n-sub", type=int, default=8, help="2-D fine cells per element n")
    parser.add_argument("--ells", type=int, nargs="+", default=[1, 2, 3], help="2-D ℓ values")
    parser.add_argument("--n-coarse-3d", type=int, default=8, help="3-D N_H")
    parser.add_argument("--n-sub-3d", type=int, default=4, help="3-D n")
    parser.add_argument("--ells-3d", type=int, nargs="+", default=[1], help="3-D ℓ values")
    parser.add_argument("--out", default=str(OUT), help="output folder")
    args = parser.parse_args(argv)
    for name in ("samples", "samples_3d"):
        check_at_least(f"--{name.replace('_', '-')}", getattr(args, name), 0)
    for name in ("n_coarse", "n_sub", "n_coarse_3d", "n_sub_3d"):
        check_at_least(f"--{name.replace('_', '-')}", getattr(args, name), 2)
    for ell in args.ells + args.ells_3d:
        check_at_least("--ells", ell, 1)
    return args


# ## One sample: the three methods
def rev_permeability(disc: Discretization, coefficient: np.ndarray) -> np.ndarray:
    """Diagonal of the REV tensor of eq. (43) (hybrid paper, V = Ω) on the fine mesh, 2-D."""
    from hybrid_pinn.upscaling import solve_cell_problems, upscaled_tensor
    from lod_fenicsx.coefficient import coefficient_function

    a = coefficient_function(disc, coefficient)
    cells = solve_cell_problems(disc.fine_mesh, lambda x: a, lambda x: 0.0, quadrature_degree=2)
    return np.diag(upscaled_tensor(cells)[0, 0]).copy()


def one_sample(family, index, dim, n_coarse, n_sub, ells, solvers) -> dict:
    s = sample(family, index, BASE_SEED, n_coarse * n_sub, dim)
    a = s.coefficient
    disc = Discretization(MPI.COMM_SELF, n_coarse, n_sub, dim=dim)
    record = dict(family=family, dim=dim, index=index, n_coarse=n_coarse, n_sub=n_sub)
    record["contrast"] = float(a.max() / a.min())
    start = time.perf_counter()
    record["fine"] = fine_upscaled_permeability(disc, a, rtol=1e-12).tolist()
    record["fine_s"] = time.perf_counter() - start
    for ell in ells:
        start = time.perf_counter()
        k = upscaled_permeability(
            MPI.COMM_SELF, a, n_coarse, n_sub, ell, disc=disc, patch_solvers=solvers
        )
        record[f"pglod_{ell}_s"] = time.perf_counter() - start
        record[f"pglod_{ell}"] = k.tolist()
    if dim == 2:
        start = time.perf_counter()
        record["rev"] = rev_permeability(disc, a).tolist()
        record["rev_s"] = time.perf_counter() - start
    return record


def read_samples(log: pathlib.Path) -> list[dict]:
    """The records of an earlier run (``one_sample``'s, one JSON object per line), [] if none;
    a ValueError on one line that names the file for anything else."""
    what = "sample log"
    expected = "the samples.jsonl this script writes; move it away to start anew"
    records = read_jsonl(log, what, expected, absent=[])
    fields = dict(family=str, index=int, n_coarse=int, n_sub=int, contrast=(int, float))
    for number, r in enumerate(records, 1):
        dim = r.get("dim")
        good = dim in (2, 3) and all(isinstance(r.get(k), t) for k, t in fields.items())
        for key, value in r.items():
            if key in ("fine", "rev") or re.fullmatch(r"pglod_\d+", key):  # a tensor's diagonal
                good = good and isinstance(value, list) and len(value) == dim
                good = good and all(isinstance(v, (int, float)) for v in value)
            elif key.endswith("_s"):  # seconds
                good = good and isinstance(value, (int, float))
        if not good or "fine" not in r:
            raise refusal(log, what, f"record {number} is not a sample of this script", expected)
    return records


# ## The table and the figure
def relative_errors(records, key):
    return np.array([np.array(r[key]) / np.array(r["fine"]) - 1 for r in records]).ravel()


def write_table(records, out: pathlib.Path, ells_by_dim):
    groups = []  # (label, dim, records)
    for c in CONTRASTS:
        rs = [r for r in records if r["family"] == f"lognormal-{c}" and r["dim"] == 2]
        if rs:
            groups.append((f"{c} ({TARGET_CONTRAST[c]:g})", 2, rs))
    rs = [r for r in records if r["dim"] == 3]
    if rs:
        c = rs[0]["family"].split("-")[1]
        groups.append((f"{c} ({TARGET_CONTRAST[c]:g}), 3-D", 3, rs))
    lines = [
        "# Upscaled permeability: PG-LOD against the fine FEM (issue 32)",
        "",
        "Written by `demos/upscaled_permeability.py` from `samples.jsonl`. Relative error "
        "(K_LOD − K_fine) / K_fine pooled over the axes of each sample: median [10 %, 90 %]; "
        "seconds per sample (all axes, wall clock, one core of a shared machine; PG-LOD with "
        "its PatchSolvers reused over the samples). REV: the diagonal of the hybrid paper's "
        "eq. (43) tensor (boundary condition u = x_i on all of ∂D), relative to K_fine.",
        "",
        "| contrast class | d | N_H | n | samples | median contrast | ℓ | rel. error median "
        "[10 %, 90 %] | PG-LOD s | fine s | REV rel. diff. median [10 %, 90 %] | REV s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for label, dim, rs in groups:
        for ell in ells_by_dim[dim]:
            if f"pglod_{ell}" not in rs[0]:
                continue
            err = relative_errors(rs, f"pglod_{ell}")
            q = np.quantile(err, [0.5, 0.1, 0.9])
            row = dict(
                group=label, dim=dim, ell=ell, samples=len(rs), median=q[0], q10=q[1], q90=q[2]
            )
            row["pglod_s"] = float(np.median([r[f"pglod_{ell}_s"] for r in rs]))
            row["fine_s"] = float(np.median([r["fine_s"] for r in rs]))
            rev, rev_s = "", ""
            if dim == 2:
                qr = np.quantile(relative_errors(rs, "rev"), [0.5, 0.1, 0.9])
                rev = f"{qr[0]:+.2e} [{qr[1]:+.2e}, {qr[2]:+.2e}]"
                rev_s = f"{np.median([r['rev_s'] for r in rs]):.2f}"
                row.update(rev_median=qr[0], rev_q10=qr[1], rev_q90=qr[2])
            summary.append(row)
            lines.append(
                f"| {label} | {dim} | {rs[0]['n_coarse']} | {rs[0]['n_sub']} | {len(rs)} | "
                f"{np.median([r['contrast'] for r in rs]):.3g} | {ell} | {q[0]:+.2e} [{q[1]:+.2e}, "
                f"{q[2]:+.2e}] | {row['pglod_s']:.2f} | {row['fine_s']:.2f} | {rev} | {rev_s} |"
            )
    lines += ["", f"Load average (1 min) at the end of the run: {os.getloadavg()[0]:.2f}."]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return groups


def write_figure(groups, out: pathlib.Path, ells_by_dim):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    position, ticks, labels = 0, [], []
    colours = {1: "tab:blue", 2: "tab:orange", 3: "tab:green"}
    for label, dim, rs in groups:
        first = position
        for ell in ells_by_dim[dim]:
            if f"pglod_{ell}" not in rs[0]:
                continue
            err = np.abs(relative_errors(rs, f"pglod_{ell}"))
            box = ax.boxplot(
                err,
                positions=[position],
                widths=0.7,
                whis=(10, 90),
                showfliers=False,
                patch_artist=True,
            )
            box["boxes"][0].set_facecolor(colours.get(ell, "grey"))
            position += 1
        ticks.append((first + position - 1) / 2)
        labels.append(label)
        position += 1
    ax.set_yscale("log")
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_ylabel("|K_LOD / K_fine − 1|")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, [f"ℓ = {e}" for e in colours], fontsize=8)
    ax.set_title(
        "PG-LOD upscaled permeability, lognormal fields (box 25-75 %, whiskers 10-90 %)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(out / "errors.png", dpi=110)


def read_records(log: pathlib.Path, args) -> list[dict]:
    """The samples of an earlier run in ``log`` (``read_samples``), each of the grid ``args``
    asks for: a sample of another grid would be taken as done and mixed into the table."""
    records = read_samples(log)
    grids = {2: (args.n_coarse, args.n_sub), 3: (args.n_coarse_3d, args.n_sub_3d)}
    for r in records:
        grid = (r["n_coarse"], r["n_sub"])
        if grid != grids[r["dim"]]:
            option = "--n-coarse/--n-sub" if r["dim"] == 2 else "--n-coarse-3d/--n-sub-3d"
            raise ValueError(
                f"{log} holds {r['dim']}-D samples of N_H = {grid[0]}, n = {grid[1]}, this run "
                f"asks for N_H = {grids[r['dim']][0]}, n = {grids[r['dim']][1]}: give the same "
                f"{option}, or another --out"
            )
    return records


def main(argv=None) -> int:
    args = parse(argv)
    log = pathlib.Path(args.out) / "samples.jsonl"
    records = read_records(log, args)  # before the folder is made or anything written
    out = check_writable(pathlib.Path(args.out), "--out folder", folder=True)
    done = {(r["family"], r["dim"], r["index"]) for r in records}
    todo = [(f"lognormal-{c}", 2, i) for c in CONTRASTS for i in range(args.samples)]
    todo += [("lognormal-moderate", 3, i) for i in range(args.samples_3d)]
    solvers: dict = {}
    for family, dim, index in todo:
        if (family, dim, index) in done:
            continue
        if dim == 2:
            grid = (args.n_coarse, args.n_sub, args.ells)
        else:
            grid = (args.n_coarse_3d, args.n_sub_3d, args.ells_3d)
        record = one_sample(family, index, dim, *grid, solvers)
        records.append(record)
        with log.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{family} {dim}-D #{index}: fine {np.round(record['fine'], 4)}", flush=True)
    for solver in solvers.values():
        solver.close()
    ells_by_dim = {2: args.ells, 3: args.ells_3d}
    groups = write_table(records, out, ells_by_dim)
    write_figure(groups, out, ells_by_dim)
    print((out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(run("demos/upscaled_permeability.py", main, serial=True))
