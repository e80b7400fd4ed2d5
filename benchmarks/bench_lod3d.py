"""3-D element correctors: all local matrices S_{A,T} of N_H = 8 (512 patches), PETSc backend.

Issue 22's target: n = 4, ℓ = 1 in at most 4 s on one core, against about 40 s measured for
gridlod + CHOLMOD. This script times ``PatchSolver(8, n, ℓ, dim=3).local_matrices`` for a few
(n, ℓ), best of ``--repeat``, with the set-up (patch types, orderings) apart, and the load average
beside each figure (the machine may be shared: a load above the core count inflates the times).
The global assembly and the CLI's start-up come with the 3-D global solve. Writes
benchmarks/lod3d.json and .md::

    python3 benchmarks/bench_lod3d.py [--cases 4,1 2,1 2,2] [--repeat 2]
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.threads import limit_threads

HERE = pathlib.Path(__file__).resolve().parent
N_COARSE = 8


def case(text: str) -> tuple[int, int]:
    n, ell = (int(v) for v in text.split(","))
    return n, ell


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=case, nargs="+", default=[(2, 1), (4, 1), (2, 2)])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    limit_threads(1)
    rows = []
    for n, ell in args.cases:
        a = np.random.default_rng(0).uniform(1.0, 10.0, (N_COARSE * n,) * 3)
        t0 = time.perf_counter()
        with PatchSolver(N_COARSE, n, ell, dim=3) as solver:
            setup = time.perf_counter() - t0
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                solver.local_matrices(a)
                times.append(time.perf_counter() - t)
        rows.append(
            {
                "n": n,
                "ell": ell,
                "patches": N_COARSE**3,
                "fine_nodes_per_patch": ((2 * ell + 1) * n + 1) ** 3,
                "setup_s": setup,
                "local_matrices_s": min(times),
                "load": os.getloadavg()[0],
            }
        )
        print(rows[-1], flush=True)
    (HERE / "lod3d.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=1))
    lines = [
        "# 3-D local matrices, N_H = 8 (benchmarks/bench_lod3d.py)",
        "",
        f"PETSc backend, one thread, best of {args.repeat}; i.i.d. U(1, 10) coefficient; "
        f"{os.cpu_count()} cores, 1-minute load average beside each row. Target (issue 22): "
        "n = 4, l = 1 in <= 4 s; gridlod + CHOLMOD about 40 s (the issue's measurement).",
        "",
        "| n | l | fine nodes per patch | set-up s | all 512 S_{A,T} s | ms per patch | load |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['ell']} | {r['fine_nodes_per_patch']} | {r['setup_s']:.2f} | "
            f"{r['local_matrices_s']:.2f} | {1e3 * r['local_matrices_s'] / r['patches']:.1f} | "
            f"{r['load']:.2f} |"
        )
    (HERE / "lod3d.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
