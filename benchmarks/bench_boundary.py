"""The cost of Neumann faces (issue 32): a PG-LOD solve with Neumann faces against the
all-Dirichlet solve of the same grid and coefficient.

Issue 32's target: a Neumann run costs at most 10 % more. Per case, a cold solve each way
(a new ``PatchSolver``: patch types, orderings, symbolic factorisations, all patches, S_A and
the coarse solve, as ``pglod_solve`` does it), alternated ``--repeat`` times, median wall and CPU
seconds, and the number of patches that a twin of the PETSc backend solves (those that have a
Neumann face of D as a face of their own, whose nodes are then unknowns too). One rank, one
thread; the 1-minute load average beside each row (the machine may be shared: the ratio of CPU
times is the steadier figure). Writes benchmarks/boundary.json and .md::

    python3 benchmarks/bench_boundary.py [--repeat 3]
"""

import argparse
import json
import os
import pathlib
import statistics
import time

import numpy as np
from mpi4py import MPI

from lod_fenicsx.boundary import neumann_mask
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.patch import open_faces
from lod_fenicsx.pglod import pglod_solve
from plumbing.threads import limit_threads

HERE = pathlib.Path(__file__).resolve().parent
# (d, N_H, n, ℓ, Neumann faces): the README's 2-D configuration and issue 22's 3-D one, with the
# faces of a flow along x (no flux through the others).
CASES = [
    (2, 32, 8, 2, ("y0", "y1")),
    (3, 8, 4, 1, ("y0", "y1", "z0", "z1")),
    (3, 16, 4, 1, ("y0", "y1", "z0", "z1")),  # the same with a smaller share of face patches
]


def solve_seconds(a, n_coarse, n_sub, ell, neumann):
    """Wall and CPU seconds of a cold PG-LOD solve (new PatchSolver) of ``a``, then of a warm
    one of ``a[::-1]`` with the same PatchSolver (its set-up made: repeated solves, as in
    dataset generation or Monte Carlo), and the first u_H: (cold wall, cold CPU, warm wall,
    warm CPU, u_H)."""
    seconds, u = [], None
    wall, cpu = time.perf_counter(), time.process_time()
    with PatchSolver(n_coarse, n_sub, ell, dim=a.ndim, neumann=neumann) as ps:
        for coefficient in (a, a[::-1].copy()):
            result = pglod_solve(
                MPI.COMM_SELF, coefficient, n_coarse, n_sub, ell, patch_solver=ps, neumann=neumann
            )
            u = result.u_coarse if u is None else u
            result.destroy()
            seconds += [time.perf_counter() - wall, time.process_time() - cpu]
            wall, cpu = time.perf_counter(), time.process_time()
    return (*seconds, u)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="alternated runs per case")
    args = parser.parse_args(argv)
    rows = []
    limit_threads(1)
    for dim, n_coarse, n_sub, ell, faces in CASES:
        a = np.random.default_rng(0).uniform(1.0, 10.0, (n_coarse * n_sub,) * dim)
        # Warm-up: imports, the coarse meshes (cached per communicator and size).
        solve_seconds(a, n_coarse, n_sub, ell, None)
        times = {"dirichlet": [], "neumann": [], "dirichlet_warm": [], "neumann_warm": []}
        loads = []
        for _ in range(args.repeat):
            for name, neumann in (("dirichlet", None), ("neumann", faces)):
                wall, cpu, warm_wall, warm_cpu, _ = solve_seconds(a, n_coarse, n_sub, ell, neumann)
                times[name].append((wall, cpu))
                times[f"{name}_warm"].append((warm_wall, warm_cpu))
            loads.append(os.getloadavg()[0])
        mask = neumann_mask(faces, dim)
        ps = PatchSolver(n_coarse, 1, ell, dim=dim)  # n = 1: only the patch keys
        closed = sum(
            open_faces(ps.type_key(t), ps.ell_solved, mask).any() for t in range(n_coarse**dim)
        )
        row = dict(
            dim=dim,
            n_coarse=n_coarse,
            n_sub=n_sub,
            ell=ell,
            neumann=" ".join(faces),
            patches=n_coarse**dim,
            closed_patches=int(closed),
            load=statistics.median(loads),
            repeat=args.repeat,
        )
        for name, values in times.items():
            row[f"{name}_wall_s"] = statistics.median(v[0] for v in values)
            row[f"{name}_cpu_s"] = statistics.median(v[1] for v in values)
        row["wall_ratio"] = row["neumann_wall_s"] / row["dirichlet_wall_s"]
        row["cpu_ratio"] = row["neumann_cpu_s"] / row["dirichlet_cpu_s"]
        row["warm_cpu_ratio"] = row["neumann_warm_cpu_s"] / row["dirichlet_warm_cpu_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    (HERE / "boundary.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# Neumann faces against all-Dirichlet: a cold and a warm PG-LOD solve (issue 32)",
        "",
        "Written by `benchmarks/bench_boundary.py`: cold, a new PatchSolver (patch types, "
        "orderings, symbolic factorisations), all S_{A,T}, S_A and the coarse solve; warm, a "
        "second coefficient with the same PatchSolver (repeated solves: generation, Monte "
        "Carlo). One rank, one thread; medians of alternated runs. Target: Neumann <= 1.10 x "
        "all-Dirichlet.",
        "",
        "| d | N_H | n | ℓ | Neumann faces | patches (on a twin) | Dirichlet s (CPU) | "
        "Neumann s (CPU) | ratio wall | ratio CPU | warm: Dirichlet, Neumann CPU s | "
        "warm ratio CPU | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dim']} | {r['n_coarse']} | {r['n_sub']} | {r['ell']} | {r['neumann']} | "
            f"{r['patches']} ({r['closed_patches']}) | {r['dirichlet_wall_s']:.2f} "
            f"({r['dirichlet_cpu_s']:.2f}) | {r['neumann_wall_s']:.2f} ({r['neumann_cpu_s']:.2f}) "
            f"| {r['wall_ratio']:.3f} | {r['cpu_ratio']:.3f} | {r['dirichlet_warm_cpu_s']:.2f}, "
            f"{r['neumann_warm_cpu_s']:.2f} | {r['warm_cpu_ratio']:.3f} | {r['load']:.2f} |"
        )
    (HERE / "boundary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
