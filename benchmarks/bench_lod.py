"""Benchmark: PG-LOD local matrices S_{A,T} for the paper configuration (paper 000, Sec. 4).

N_H = 32, n = 8 (ε = 2^-8), ℓ = 2: 1024 patches of 40 x 40 fine cells. Measures patches per
second of each corrector backend (PETSc: one process, one core; torch: the CPU or a GPU) with
the time per phase, peak memory, and the speed-up of the distributed PETSc computation on 1 vs
2 MPI ranks. Writes ``benchmarks/<tag>.json`` and ``benchmarks/<tag>.md`` (tag ``lod``)::

    ./run python3 benchmarks/bench_lod.py            # spawns the mpirun runs itself
    ./run python3 benchmarks/bench_lod.py --repeats 5

On a GPU machine without DOLFINx/PETSc (torch + NumPy + SciPy only)::

    python3 benchmarks/bench_lod.py --backends torch --device cuda --no-mpi --tag lod_gpu

The reference gridlod (SciPy + CHOLMOD) needs about 14.5 ms per patch on these machines
(figure from the issue); the target is <= 1.5 ms per patch on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GRIDLOD_MS = 14.5


def _coefficient(n_coarse, n_sub, seed=0):
    return np.random.default_rng(seed).uniform(1.0, 5.0, (n_coarse * n_sub,) * 2)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serial(n_coarse, n_sub, ell, repeats, backend, device="cpu", batch_size=None):
    """One process, all patches: best-of-``repeats`` wall time and the phase split of that run.

    Also the CPU time of the process (``time.process_time``): on a shared machine it is
    what the run would take on an idle core, up to cache and memory-bandwidth effects.
    """
    from lod_fenicsx.corrector import PatchSolver

    options, label = {}, backend
    if backend == "torch":
        import torch

        options = {"device": device, "batch_size": batch_size}
        if torch.device(device).type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        label = f"torch ({device}, {torch.get_num_threads()} thread(s))"
    a = _coefficient(n_coarse, n_sub)
    t0 = time.perf_counter()
    ps = PatchSolver(n_coarse, n_sub, ell, backend=backend, **options)
    ps.local_matrices(a, np.arange(min(n_coarse**2, ps.backend.batch_size)))  # set-up, warm-up
    setup = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        ps.reset_timings()
        t0, c0 = time.perf_counter(), time.process_time()
        ps.local_matrices(a)
        runs.append((time.perf_counter() - t0, time.process_time() - c0, dict(ps.timings)))
    walls = [w for w, _, _ in runs]
    best, cpu, phases = min(runs, key=lambda r: r[0])
    n_patches = n_coarse**2
    return {
        "backend": label,
        "batch_size": ps.backend.batch_size,
        "setup_s": setup,
        "cpu_ms_per_patch_of_best": 1e3 * cpu / n_patches,
        "cpu_ms_per_patch_min": 1e3 * min(c for _, c, _ in runs) / n_patches,
        "wall_s_best": best,
        "wall_s_median": float(np.median(walls)),
        "wall_s_all": walls,
        "ms_per_patch_best": 1e3 * best / n_patches,
        "ms_per_patch_median": 1e3 * float(np.median(walls)) / n_patches,
        "patches_per_s_best": n_patches / best,
        "phases_ms_per_patch": {k: 1e3 * v / n_patches for k, v in phases.items()},
        "other_ms_per_patch": 1e3 * (best - sum(phases.values())) / n_patches,
        "peak_rss_mib": _peak_mib(),
        "peak_gpu_mib": _peak_gpu_mib(),
    }


def _peak_gpu_mib():
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def worker(n_coarse, n_sub, ell, repeats, out):
    """Under mpirun: distributed local matrices (gathered on rank 0) and the whole pglod_solve."""
    from mpi4py import MPI

    from lod_fenicsx.corrector import PatchSolver
    from lod_fenicsx.pglod import distributed_local_matrices, pglod_solve

    comm = MPI.COMM_WORLD
    a = _coefficient(n_coarse, n_sub)
    ps = PatchSolver(n_coarse, n_sub, ell)
    ps.local_matrices(a, [n_coarse // 2 * (n_coarse + 1)])
    walls, cpus = [], []
    for _ in range(repeats):
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        distributed_local_matrices(comm, a, n_coarse, n_sub, ell, root=0, patch_solver=ps)
        cpu = time.process_time() - c0
        comm.Barrier()
        walls.append(time.perf_counter() - t0)
        cpus.append(comm.allreduce(cpu, op=MPI.MAX))  # the slowest rank's CPU time
    comm.Barrier()
    t0 = time.perf_counter()
    result = pglod_solve(comm, a, n_coarse, n_sub, ell)
    comm.Barrier()
    total = time.perf_counter() - t0
    peaks = comm.gather(_peak_mib(), root=0)
    if comm.rank == 0:
        record = {
            "ranks": comm.size,
            "local_matrices_wall_s_best": min(walls),
            "local_matrices_wall_s_all": walls,
            "local_matrices_cpu_s_max_rank_best": min(cpus),
            "pglod_solve_wall_s": total,
            "pglod_solve_phases_s": result.timings,
            "peak_rss_mib_per_rank": peaks,
        }
        Path(out).write_text(json.dumps(record))


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in (
                "Model name",
                "CPU(s)",
                "Thread(s) per core",
                "L2 cache",
                "L3 cache",
            ):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-coarse", type=int, default=32)
    parser.add_argument("--n-sub", type=int, default=8)
    parser.add_argument("--ell", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="petsc,torch", help="corrector backends to compare")
    parser.add_argument("--device", default="cpu", help="device of the torch backend (cpu, cuda)")
    parser.add_argument("--batch-size", type=int, help="patches per batch of the torch backend")
    parser.add_argument("--no-mpi", action="store_true", help="skip the 1 vs 2 rank PETSc runs")
    parser.add_argument("--tag", default="lod", help="results go to benchmarks/<tag>.json and .md")
    parser.add_argument(
        "--note", default="", help="free text stored with the results (how it was run)"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = (args.n_coarse, args.n_sub, args.ell)
    if args.worker:
        worker(*cfg, args.repeats, args.worker)
        return
    from lod_fenicsx.corrector import PatchSolver  # noqa: F401  (fail early outside the env)

    record = {
        "config": dict(zip(("n_coarse", "n_sub", "ell"), cfg)),
        "machine": machine(),
        "load_before": load(),
    }
    record["note"] = args.note
    record["serial"] = [
        serial(*cfg, args.repeats, b, args.device, args.batch_size)
        for b in args.backends.split(",")
    ]
    record["mpi"] = {}
    for ranks in () if args.no_mpi else (1, 2):
        tmp = HERE / f".bench_lod_{ranks}.json"
        cmd = [
            "mpirun",
            "-n",
            str(ranks),
            sys.executable,
            __file__,
            "--worker",
            str(tmp),
            "--n-coarse",
            str(args.n_coarse),
            "--n-sub",
            str(args.n_sub),
            "--ell",
            str(args.ell),
            "--repeats",
            str(args.repeats),
        ]
        subprocess.run(cmd, check=True)
        record["mpi"][ranks] = json.loads(tmp.read_text())
        tmp.unlink()
    if record["mpi"]:
        one, two = record["mpi"][1], record["mpi"][2]
        record["speedup_2_ranks_local_matrices"] = (
            one["local_matrices_wall_s_best"] / two["local_matrices_wall_s_best"]
        )
        record["speedup_2_ranks_pglod_solve"] = (
            one["pglod_solve_wall_s"] / two["pglod_solve_wall_s"]
        )
        # What two idle cores would give: the busiest rank's CPU time bounds the wall time.
        record["speedup_2_ranks_cpu_bound"] = (
            one["local_matrices_cpu_s_max_rank_best"] / two["local_matrices_cpu_s_max_rank_best"]
        )
    record["load_after"] = load()
    (HERE / f"{args.tag}.json").write_text(json.dumps(record, indent=2))
    (HERE / f"{args.tag}.md").write_text(markdown(record))
    print(markdown(record))


def markdown(r) -> str:
    c, m = r["config"], r["machine"]
    lines = [
        "# PG-LOD local matrices: benchmark",
        "",
        f"Configuration: N_H = {c['n_coarse']}, n = {c['n_sub']}, ℓ = {c['ell']} "
        f"({c['n_coarse'] ** 2} patches). Produced by `benchmarks/bench_lod.py` "
        "(numbers in `lod.json`).",
        "",
        f"Machine: {m.get('Model name', '?')}, {m.get('CPU(s)', m['cores'])} CPU(s); "
        f"{m['platform']}.",
        f"Load average (1, 5, 15 min) before: {r['load_before']}, after: {r['load_after']} "
        "(the machine is shared: a load above the core count inflates every time below).",
        *([f"Note: {r['note']}"] if r.get("note") else []),
        "",
        "## One process (all patches, best of the repeats)",
        "",
        "| backend | batch | ms / patch (best) | ms / patch (median) | CPU ms / patch | "
        "patches / s | phases (ms / patch) | other | set-up [s] | peak RSS [MiB] | "
        "peak GPU [MiB] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["serial"]:
        phases = ", ".join(f"{k} {v:.3f}" for k, v in s["phases_ms_per_patch"].items())
        gpu = "—" if s.get("peak_gpu_mib") is None else f"{s['peak_gpu_mib']:.0f}"
        lines.append(
            f"| {s['backend']} | {s['batch_size']} | {s['ms_per_patch_best']:.3f} | "
            f"{s['ms_per_patch_median']:.3f} | {s['cpu_ms_per_patch_min']:.3f} | "
            f"{s['patches_per_s_best']:.0f} | {phases} | {s['other_ms_per_patch']:.3f} | "
            f"{s['setup_s']:.2f} | {s['peak_rss_mib']:.0f} | {gpu} |"
        )
    best = min(s["ms_per_patch_best"] for s in r["serial"])
    cpu = min(s["cpu_ms_per_patch_min"] for s in r["serial"])
    lines += [
        "",
        f"Phase columns are wall-clock ms per patch. gridlod reference: {GRIDLOD_MS} ms / patch; "
        f"best wall clock here {best:.3f} ms / patch = {GRIDLOD_MS / best:.1f}x faster, CPU time "
        f"{cpu:.3f} ms / patch = {GRIDLOD_MS / cpu:.1f}x (target: <= 1.5 ms, >= 10x).",
    ]
    if not r["mpi"]:
        return "\n".join(lines + [""])
    lines += [
        "",
        "## MPI (patches distributed over ranks, local matrices gathered on rank 0)",
        "",
        "| ranks | local matrices [s] | speed-up | CPU of busiest rank [s] | "
        "whole pglod_solve [s] | peak RSS per rank [MiB] |",
        "|---|---|---|---|---|---|",
    ]
    for ranks in (1, 2):
        x = r["mpi"][ranks] if ranks in r["mpi"] else r["mpi"][str(ranks)]
        t1 = (
            r["mpi"][1]["local_matrices_wall_s_best"]
            if 1 in r["mpi"]
            else r["mpi"]["1"]["local_matrices_wall_s_best"]
        )
        wall = x["local_matrices_wall_s_best"]
        rss = ", ".join(f"{v:.0f}" for v in x["peak_rss_mib_per_rank"])
        lines.append(
            f"| {ranks} | {wall:.2f} | {t1 / wall:.2f} | "
            f"{x['local_matrices_cpu_s_max_rank_best']:.2f} | {x['pglod_solve_wall_s']:.2f} | "
            f"{rss} |"
        )
    lines += [
        "",
        "Speed-up 1 -> 2 ranks (wall clock): local matrices "
        f"{r['speedup_2_ranks_local_matrices']:.2f}x, "
        f"whole solve {r['speedup_2_ranks_pglod_solve']:.2f}x (target >= 1.8x). From the CPU time "
        "of the busiest rank (what two idle cores give): "
        f"{r['speedup_2_ranks_cpu_bound']:.2f}x.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
