"""NN-LOD in three dimensions: PG-LOD labels on hexahedra, a 3-D compression network, its errors.

Paper 000 sets up the compression for D ⊂ R^d, d ∈ {1, 2, 3} (Sec. 2.1), and the PG-LOD
decomposition S_A = Σ_T π_T S_{A,T} φ_Tᵀ (3.8)-(3.10) for Cartesian meshes of any dimension; its
experiments are 2-D. Here the same pipeline runs on D = (0,1)^3 with the preset ``lod3d``:
N_H = 8 hexahedra per side, n = 4 fine cells per element and side, ℓ = 1, the families 𝔄_0..𝔄_5
and 𝔄_ms of Sec. 4.1 (i.i.d. U[1, 5] on 2^k cells per side; 𝔄_k for k > 5 equals 𝔄_5 on 32³ fine
cells), 12 samples each, split 80/10/10 per family. A patch R_T(A), eq. (3.11), holds
(2ℓ+1)³ n³ = 1728 values and S_{A,T}, eq. (3.9), (2ℓ+2)³ × 2³ = 64 × 8 entries; the network of
Sec. 4.3 sized by the same rule is 1728 → 1728 → 864 → 864 → 512 → 512 → 512 (6.2 M parameters).

1. the dataset ``$NH_STATE/data/lod3d.h5`` is generated or completed on all MPI ranks;
2. the network is trained on rank 0 on the CPU (schedule ``lod3d``; a rerun resumes);
3. for ``--statistics`` held-out samples of each of ``--families`` (default 50 of 𝔄_ms) and
   f = 1: the mean over T of ‖Ŝ_{A,T} − S_{A,T}‖_F / ‖S_{A,T}‖_F, ‖S_A − Ŝ_A‖₂ (absolute and
   relative to ‖S_A‖₂), ‖u_H − û_H‖_{L²} (absolute and relative to ‖u_H‖_{L²}): mean, median,
   10 / 90 % quantiles, minimum and maximum;
4. one more held-out sample of 𝔄_ms: slices z = 1/2 of A, of u_H (PG-LOD), of û_H (NN-LOD) and
   of their difference.

Results: ``table.md``, ``table.json`` (summaries, every value, losses, timings, machine load),
``errors.csv`` (one row per held-out sample) and ``slices.png`` in ``--out`` (default
``demos/results/nnlod_3d``)::

    mpirun -n 2 python3 demos/nnlod_3d.py
    python3 demos/nnlod_3d.py --preset lod3d-tiny --statistics 4 --out /tmp/nnlod3d  # seconds
"""

import csv
import json
import os
import pathlib
import sys
import time

from mpi4py import MPI

from plumbing.cli import CollectiveError, check_writable, collective, run
from nn_compress.dataset import generation_progress
from nn_compress.pipeline import (
    check_dataset_file,
    check_experiment_arguments,
    dataset_path,
    ensure_network,
    experiment_network,
)

PRESETS = ("lod3d", "lod3d-tiny")
DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "results" / "nnlod_3d"
FIGURE_INDEX = 1_000_000  # a sample index far beyond every dataset: never seen in training
SHOWN = ("local_relative", "spectral", "spectral_relative", "l2", "l2_relative")


def parse(argv):
    import argparse

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--preset", choices=PRESETS, default="lod3d", help="dataset preset (3-D)")
    p.add_argument(
        "--out", help="output folder (default: demos/results/nnlod_3d, results/<preset> otherwise)"
    )
    p.add_argument("--statistics", type=int, default=50, help="held-out samples per family")
    p.add_argument("--families", nargs="+", default=["Ams"], help="families of the statistics")
    p.add_argument("--schedule", default="lod3d", help="training schedule (nn_compress.training)")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads of the run")
    p.add_argument(
        "--structured",
        action="store_true",
        help="structure-preserving output layer (zero row/column sums over 8 / 64 nodes)",
    )
    p.add_argument("--checkpoint", help="a trained 3-D network instead of training one")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    comm = MPI.COMM_WORLD
    check_experiment_arguments(args, **{"--batch-size": (args.batch_size, 1)})
    started, load_start = time.perf_counter(), os.getloadavg()

    from nn_compress.dataset import presets
    from nn_compress.fields import families_in, sample
    from nn_compress.figures import plot_slices
    from nn_compress.statistics import error_distribution, statistics_record
    from nn_compress.surrogate import NNLODSurrogate, compare
    from nn_compress.training import SCHEDULES, load_model

    from plumbing.threads import limit_threads

    limit_threads(args.threads)  # training and evaluation alike
    unknown = [f for f in args.families if f not in families_in(3)]
    if unknown or args.schedule not in SCHEDULES:  # alike on every rank: one line from rank 0
        raise CollectiveError(
            f"--families {' '.join(unknown)}: not 3-D families ({', '.join(families_in(3))})"
            if unknown
            else f"--schedule {args.schedule}: use one of {', '.join(SCHEDULES)}"
        )
    # A given network, or the preset's dataset file when it exists, must fit a 3-D experiment:
    # checked on every rank alike, before the output folder is made.
    try:
        if args.checkpoint:
            model, ckpt = experiment_network(args.checkpoint, dim=3)
        else:
            check_dataset_file(dataset_path(args.preset), presets()[args.preset])
    except ValueError as e:
        raise CollectiveError(f"--checkpoint: {e}" if args.checkpoint else str(e)) from None
    default_out = DEFAULT_OUT if args.preset == "lod3d" else f"results/{args.preset}"
    with collective(comm):
        out = check_writable(args.out or default_out, "output folder", folder=True)
        if args.checkpoint:  # every rank reads it, before any work
            ckpt_path, losses = pathlib.Path(args.checkpoint), {}
            model, ckpt = load_model(ckpt_path, dim=3)

    # 1-2. Data and network (each made only when missing; both resume after a kill).
    timings = {}
    t0 = time.perf_counter()
    if not args.checkpoint:
        ckpt_path, losses = ensure_network(
            comm,
            args.preset,
            args.schedule,
            structured=args.structured,
            batch_size=args.batch_size,
            threads=args.threads,
        )
    timings["data_and_training_s"] = time.perf_counter() - t0
    if not args.checkpoint:
        with collective(comm):  # every rank reads the files just made
            timings["dataset_written_s"] = written_span(dataset_path(args.preset))
            model, ckpt = load_model(ckpt_path, dim=3)
    g = ckpt["generation_config"]
    n_coarse, n_sub, ell = g["n_coarse"], g["n_sub"], g["ell"]
    surrogate = NNLODSurrogate(model.double(), n_coarse, n_sub, ell)
    if comm.rank == 0:
        print(
            f"network {ckpt_path}: {model.sizes}, {sum(p.numel() for p in model.parameters())} "
            f"parameters; test loss {losses.get('test_loss')}",
            flush=True,
        )

    # 3. Error distributions over held-out coefficients (each rank solves whole samples).
    stats, rows = {}, []
    t0 = time.perf_counter()
    for family in args.families if args.statistics else ():
        values = error_distribution(comm, surrogate, family, args.statistics, g["base_seed"])
        stats[family] = statistics_record(values, family=family, rhs="f = 1")
        rows += [
            {"family": family, "sample": i, **{q: float(values[q][i]) for q in values}}
            for i in range(args.statistics)
        ]
    timings["statistics_s"] = time.perf_counter() - t0

    # 4. One held-out coefficient on all ranks: slices of A, u_H and û_H at z = 1/2.
    smp = sample("Ams", FIGURE_INDEX, g["base_seed"], n_coarse * n_sub, dim=3)
    res = compare(comm, surrogate, smp.coefficient, smp.network_input, rhs="one")
    example = {
        "family": "Ams",
        "index": FIGURE_INDEX,
        "spectral": res.spectral_error,
        "spectral_relative": res.spectral_error / res.spectral_norm_pglod,
        "l2": res.l2_error,
        "l2_relative": res.l2_error / res.l2_norm_pglod,
        "timings_s": res.timings,
    }
    timings["total_s"] = time.perf_counter() - started
    if comm.rank == 0:
        plot_slices(
            out / "slices.png",
            smp.coefficient,
            res.u_pglod,
            res.u_nnlod,
            f"3-D A_ms sample, f = 1, slice z = 1/2: relative L² error of û_H "
            f"{example['l2_relative']:.2e}",
        )
        table = {
            "preset": args.preset,
            "checkpoint": str(ckpt_path),
            "discretization": g,
            "network": {"layer_sizes": model.sizes, "structured": model.structured},
            "training": {
                **{k: losses.get(k) for k in ("train_loss", "val_loss", "test_loss", "epochs")},
                "optimiser_steps": losses.get("optimiser_steps"),
                "seconds": losses.get("seconds"),
                "schedule": args.schedule,
                "batch_size": args.batch_size,
                "history": ckpt.get("history"),
            },
            "statistics": stats,
            "example": example,
            "timings_s": timings,
            "machine": {
                "ranks": comm.size,
                "threads": args.threads,
                "load_average_start": load_start,
                "load_average_end": os.getloadavg(),
                "cpus": os.cpu_count(),
            },
        }
        (out / "table.json").write_text(json.dumps(table, indent=1))
        if rows:
            with open(out / "errors.csv", "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        lines = markdown(table)
        (out / "table.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        print(f"results in {out}/ (table.md, table.json, errors.csv, slices.png)", flush=True)
    return 0


def written_span(path) -> float:
    """Seconds from the first to the last sample written into a dataset file (its generation's
    wall time, less one sample; also when it was made by an earlier run)."""
    p = generation_progress(path)
    return float("nan") if p["first_done"] is None else p["last_done"] - p["first_done"]


def markdown(table: dict) -> list[str]:
    """The Markdown report: set-up, losses, one row per error quantity and family."""
    g, tr, mach = table["discretization"], table["training"], table["machine"]
    t = table["timings_s"]
    names = {
        "local_relative": "mean_T ‖Ŝ_{A,T} − S_{A,T}‖_F / ‖S_{A,T}‖_F",
        "spectral": "‖S_A − Ŝ_A‖₂",
        "spectral_relative": "‖S_A − Ŝ_A‖₂ / ‖S_A‖₂",
        "l2": "‖u_H − û_H‖_L²",
        "l2_relative": "‖u_H − û_H‖_L² / ‖u_H‖_L²",
    }
    fmt = lambda v: "—" if v is None else f"{v:.3e}"  # noqa: E731
    lines = [
        f"# NN-LOD in 3-D (preset {table['preset']})",
        "",
        f"D = (0,1)³, N_H = {g['n_coarse']}, n = {g['n_sub']}, ℓ = {g['ell']}; training families "
        f"{', '.join(f'{k} × {v}' for k, v in g['families'].items())} (80/10/10 per family); "
        f"network {' → '.join(map(str, table['network']['layer_sizes']))}"
        f"{' (structured)' if table['network']['structured'] else ''}, schedule "
        f"{tr['schedule']}, batch {tr['batch_size']}.",
        "",
        f"Loss (2.9): train {fmt(tr['train_loss'])}, validation {fmt(tr['val_loss'])}, test "
        f"{fmt(tr['test_loss'])} after {tr['epochs']} epochs ({tr['optimiser_steps']} Adam "
        f"steps, {fmt(tr['seconds'])} s).",
        "",
    ]
    for family, record in table["statistics"].items():
        sm = record["summary"]
        lines += [
            f"Held-out samples of {family}, f = 1 ({sm['l2']['n']} coefficients never seen in "
            "training; u_H: PG-LOD, û_H: NN-LOD, on the coarse nodes):",
            "",
            "| quantity | mean | median | 10 % | 90 % | min | max |",
            "|---|---|---|---|---|---|---|",
        ]
        for q in SHOWN:
            s = sm[q]
            lines.append(
                f"| {names[q]} | {s['mean']:.2e} | {s['median']:.2e} | {s['q10']:.2e} | "
                f"{s['q90']:.2e} | {s['min']:.2e} | {s['max']:.2e} |"
            )
        lines.append("")
    ex = table["example"]
    lines += [
        f"Figure `slices.png`: {ex['family']} sample {ex['index']}, relative L² error "
        f"{ex['l2_relative']:.2e}, ‖S_A − Ŝ_A‖₂ / ‖S_A‖₂ = {ex['spectral_relative']:.2e}; "
        f"PG-LOD {ex['timings_s'].get('pglod_total', float('nan')):.2f} s, NN-LOD compression "
        f"{ex['timings_s'].get('nnlod_compression', float('nan')):.3f} s.",
        "",
        f"Machine: {mach['ranks']} MPI rank(s), {mach['threads']} training thread(s), "
        f"{mach['cpus']} CPUs; load average {mach['load_average_start'][0]:.1f} at the start, "
        f"{mach['load_average_end'][0]:.1f} at the end; this run {t['total_s']:.0f} s (dataset "
        f"and network, made or found: {t['data_and_training_s']:.0f} s; statistics "
        f"{t['statistics_s']:.0f} s). The dataset's samples were written over "
        f"{t.get('dataset_written_s', float('nan')):.0f} s; the training took "
        f"{fmt(tr['seconds'])} s.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(run("nnlod_3d", main, comm=MPI.COMM_WORLD))
