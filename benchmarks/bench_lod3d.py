"""3-D element correctors: all local matrices S_{A,T} of N_H = 8 (512 patches), PETSc backend.

Issue 22's target: n = 4, ℓ = 1 in at most 4 s on one core, against about 40 s measured for
gridlod + CHOLMOD. This script times ``PatchSolver(8, n, ℓ, dim=3).local_matrices`` for the
target and its scaling in n (2, 4, 8 at ℓ = 1) and ℓ (1, 2 at n = 2 and 4): the set-up
(patch types, orderings, symbolic factorisation) apart, then all 512 patches and the interior
ones alone (the patches that lie inside D, gridlod's per-patch figures are for these), median
of ``--repeat``, wall and CPU seconds; and "cold", what a user pays once: a new PatchSolver,
all 512 patches (so the set-up of every patch type) and the assembly of S_A (structured COO to
a SciPy CSR matrix), median of ``--repeat`` fresh runs; with the 1-minute load average beside
each row (the machine may be shared: a load above the core count inflates the wall times, less
the CPU times). A case that would not fit in memory (``check_memory``) or whose estimate from a few
interior patches exceeds ``--budget`` seconds is listed as refused. One thread. Writes
benchmarks/lod3d.json and .md::

    python3 benchmarks/bench_lod3d.py [--cases 4,1 2,1 8,1 2,2 4,2] [--repeat 3] [--budget 600]
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import numpy as np

import scipy.sparse as sp

from lod_fenicsx.assembly import local_to_global_coo
from lod_fenicsx.corrector import PatchSolver
from plumbing.threads import limit_threads

HERE = pathlib.Path(__file__).resolve().parent
N_COARSE = 8
PATCHES = N_COARSE**3
# gridlod + CHOLMOD, ms per interior patch, and s for all 512 patches (issue 22).
GRIDLOD_MS = {(4, 1): 54.0, (4, 2): 315.0, (8, 1): 546.0}
GRIDLOD_ALL_S = {(4, 1): 40.0}
TARGET_S = 4.0


def case(text: str) -> tuple[int, int]:
    n, ell = (int(v) for v in text.split(","))
    return n, ell


def interior_elements(ell: int) -> np.ndarray:
    """Elements whose padded patch lies inside D: ℓ <= t_i <= N_H − 1 − ℓ on every axis."""
    index = np.indices((N_COARSE,) * 3).reshape(3, -1)
    return np.flatnonzero(np.all((index >= ell) & (index <= N_COARSE - 1 - ell), axis=0))


def timed(fn):
    """Wall and CPU seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def cold(a: np.ndarray, n: int, ell: int) -> None:
    """A new solver, all local matrices, S_A assembled: the whole cost of one coefficient."""
    with PatchSolver(N_COARSE, n, ell, dim=3) as solver:
        local = solver.local_matrices(a)
    rows, cols, vals = local_to_global_coo(local, np.arange(PATCHES), N_COARSE, ell)
    size = (N_COARSE + 1) ** 3
    sp.csr_matrix((vals, (rows, cols)), shape=(size, size))


def run_case(n: int, ell: int, repeat: int, budget: float) -> dict:
    row = {
        "n": n,
        "ell": ell,
        "patches": PATCHES,
        "fine_nodes_per_patch": ((2 * ell + 1) * n + 1) ** 3,
    }
    a = np.random.default_rng(0).uniform(1.0, 10.0, (N_COARSE * n,) * 3)
    inner = interior_elements(ell)
    t0 = time.perf_counter()
    try:
        solver = PatchSolver(N_COARSE, n, ell, dim=3)
    except ValueError as e:
        return {**row, "refused": str(e), "load": os.getloadavg()[0]}
    with solver:
        solver.local_matrices(a, inner[:1])  # symbolic factorisation, first patch type
        row["setup_s"] = time.perf_counter() - t0
        row["factorization"] = solver.backend.factorization
        sample = inner[1:4]
        estimate = timed(lambda: solver.local_matrices(a, sample))[0] / sample.size
        needed = estimate * (3 * PATCHES + inner.size) * repeat  # warm, interior, cold
        if needed > budget:
            return {
                **row,
                "refused": f"estimated {needed:.0f} s ({1e3 * estimate:.0f} ms per interior "
                f"patch) > --budget {budget:.0f} s",
                "load": os.getloadavg()[0],
            }
        runs = [timed(lambda: solver.local_matrices(a)) for _ in range(repeat)]
        inner_runs = [timed(lambda: solver.local_matrices(a, inner)) for _ in range(repeat)]
    cold_runs = [timed(lambda: cold(a, n, ell)) for _ in range(repeat)]
    row.update(
        {
            "all_s": statistics.median(w for w, _ in runs),
            "all_cpu_s": statistics.median(c for _, c in runs),
            "cold_s": statistics.median(w for w, _ in cold_runs),
            "cold_cpu_s": statistics.median(c for _, c in cold_runs),
            "interior_patches": int(inner.size),
            "interior_ms": 1e3 * statistics.median(w for w, _ in inner_runs) / inner.size,
            "interior_cpu_ms": 1e3 * statistics.median(c for _, c in inner_runs) / inner.size,
            "load": os.getloadavg()[0],
        }
    )
    return row


def table(rows: list[dict], repeat: int) -> list[str]:
    lines = [
        "# 3-D local matrices, N_H = 8 (benchmarks/bench_lod3d.py)",
        "",
        f"PETSc backend, one thread, median of {repeat}; i.i.d. U(1, 10) coefficient; "
        f"{os.cpu_count()} cores, 1-minute load average beside each row (a load above the "
        "core count inflates the wall times; CPU seconds are inflated less). Target (issue "
        f"22): n = 4, ℓ = 1, all {PATCHES} S_{{A,T}} in <= {TARGET_S:g} s on one core; gridlod + "
        "CHOLMOD took about 40 s, and per interior patch the ms in the gridlod column (the "
        "issue's measurements).",
        "",
        "| n | ℓ | fine nodes per patch | factorisation | cold: new solver + all 512 + S_A, s "
        "(CPU s) | set-up s | all 512 S_{A,T}, warm, s (CPU s) | ms per patch | ms per interior "
        "patch (CPU) | gridlod ms per interior patch | gridlod all 512 s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["ell"], r["n"])):  # scaling in n, then in ℓ
        head = f"| {r['n']} | {r['ell']} | {r['fine_nodes_per_patch']} |"
        gridlod = GRIDLOD_MS.get((r["n"], r["ell"]))
        gridlod_all = GRIDLOD_ALL_S.get((r["n"], r["ell"]))
        tail = (
            f" {'' if gridlod is None else f'{gridlod:g}'} |"
            f" {'' if gridlod_all is None else f'~{gridlod_all:g}'} | {r['load']:.2f} |"
        )
        if "refused" in r:
            lines.append(
                f"{head} {r.get('factorization', '')} | refused: {r['refused']} | | | | |{tail}"
            )
            continue
        lines.append(
            f"{head} {r['factorization']} | {r['cold_s']:.2f} ({r['cold_cpu_s']:.2f}) | "
            f"{r['setup_s']:.2f} | {r['all_s']:.2f} "
            f"({r['all_cpu_s']:.2f}) | {1e3 * r['all_s'] / r['patches']:.1f} | "
            f"{r['interior_ms']:.1f} ({r['interior_cpu_ms']:.1f}) |{tail}"
        )
    target = [r for r in rows if (r["n"], r["ell"]) == (4, 1) and "all_s" in r]
    if target:
        r = target[0]
        lines += [
            "",
            f"Target row, cold (a new solver, all {PATCHES} patches with every patch type's "
            f"set-up, and S_A): {r['cold_s']:.2f} s wall ({r['cold_cpu_s']:.2f} s CPU) at load "
            f"{r['load']:.2f}, {GRIDLOD_ALL_S[(4, 1)] / r['cold_s']:.0f}x faster than gridlod + "
            f"CHOLMOD's ~{GRIDLOD_ALL_S[(4, 1)]:g} s "
            f"({'meets' if r['cold_s'] <= TARGET_S else 'misses'} the {TARGET_S:g} s target); "
            f"warm (the set-ups reused) {r['all_s']:.2f} s. "
            "Before MUMPS (PETSc's native Cholesky, AMD order, per-patch products), warm: 7.73 s "
            "at load 2.50; back to back with this code at load 5.1, 11.99 s (5.95 s CPU) against "
            "4.11 s (2.11 s CPU), medians of 3.",
        ]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", type=case, nargs="+", default=[(4, 1), (2, 1), (8, 1), (2, 2), (4, 2)]
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tag", default="lod3d", help="writes benchmarks/<tag>.{json,md}")
    parser.add_argument("--note", default="", help="a sentence on the conditions, for the table")
    parser.add_argument(
        "--budget", type=float, default=600.0, help="refuse a case estimated to take longer (s)"
    )
    args = parser.parse_args(argv)
    limit_threads(1)
    rows = []
    for n, ell in args.cases:
        rows.append(run_case(n, ell, args.repeat, args.budget))
        print(rows[-1], flush=True)
    result = {"cores": os.cpu_count(), "repeat": args.repeat, "rows": rows}
    (HERE / f"{args.tag}.json").write_text(json.dumps(result, indent=1))
    lines = table(rows, args.repeat) + ([args.note] if args.note else [])
    (HERE / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
