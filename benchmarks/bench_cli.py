"""Benchmark: the command line ``python3 -m lod_fenicsx solve``, start-up apart from the work.

For a 2-D and a 3-D problem, runs the CLI ``--repeats`` times (one process, one thread) and splits
its wall time into the work the CLI times itself (the ``timings`` group of its HDF5 output:
meshes, local matrices, assembly, coarse solve, fine solve) and the rest, which is start-up
(interpreter, imports of NumPy / mpi4py / petsc4py / DOLFINx) and writing the output. The
imports alone are timed by ``python3 -c "import ..."``. Writes ``benchmarks/cli.{json,md}``::

    ./run python3 benchmarks/bench_cli.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
CASES = {  # name -> (d, N_H, n, ell, extra arguments)
    "2-D N_H=32 n=8 l=2": (2, 32, 8, 2, ["--no-fine"]),
    "2-D N_H=8 n=4 l=1 with fine": (2, 8, 4, 1, []),
    "3-D N_H=8 n=4 l=1": (3, 8, 4, 1, ["--no-fine"]),
    "3-D N_H=4 n=4 l=1 with fine": (3, 4, 4, 1, []),
}
IMPORTS = {
    "python3 (nothing)": "pass",
    "numpy": "import numpy",
    "mpi4py + petsc4py": "import mpi4py.MPI, petsc4py.PETSc",
    "dolfinx": "import dolfinx, dolfinx.fem",
    "lod_fenicsx CLI (all of its imports)": (
        "import lod_fenicsx.__main__, lod_fenicsx.pglod, lod_fenicsx.reference, "
        "lod_fenicsx.corrector"
    ),
}


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("OPENBLAS_CORETYPE", None)
    return env


def _wall(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=_env())
    return time.perf_counter() - start


def run_case(name, repeats, folder: Path) -> dict:
    dim, n_coarse, n_sub, ell, extra = CASES[name]
    side = n_coarse * n_sub
    np.save(folder / "a.npy", np.random.default_rng(0).uniform(1.0, 10.0, (side,) * dim))
    out = folder / "r.h5"
    cmd = [sys.executable, "-m", "lod_fenicsx", "solve", "--coefficient", str(folder / "a.npy")]
    cmd += ["--n-coarse", str(n_coarse), "--n-sub", str(n_sub), "--ell", str(ell)]
    cmd += ["--out", str(out), *extra]
    runs = []
    for _ in range(repeats):
        wall = _wall(cmd)
        with h5py.File(out, "r") as f:
            phases = {k: float(v) for k, v in f["timings"].attrs.items()}
        runs.append(dict(wall=wall, work=sum(phases.values()), phases=phases))
    best = min(runs, key=lambda r: r["wall"])
    return dict(
        dim=dim,
        n_coarse=n_coarse,
        n_sub=n_sub,
        ell=ell,
        arguments=extra,
        wall=best["wall"],
        work=best["work"],
        startup_and_output=best["wall"] - best["work"],
        phases=best["phases"],
        walls=[r["wall"] for r in runs],
        load=os.getloadavg()[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tag", default="cli")
    parser.add_argument("--note", default="", help="a sentence on the conditions, for the table")
    args = parser.parse_args()
    imports = {}
    for name, code in IMPORTS.items():
        walls = [_wall([sys.executable, "-c", code]) for _ in range(args.repeats)]
        imports[name] = dict(median=statistics.median(walls), walls=walls, load=os.getloadavg()[0])
        print(f"import {name}: {imports[name]['median']:.2f} s", flush=True)
    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            cases[name] = run_case(name, args.repeats, Path(tmp))
            c = cases[name]
            print(
                f"{name}: wall {c['wall']:.2f} s = work {c['work']:.2f} s + start-up and output "
                f"{c['startup_and_output']:.2f} s (load {c['load']:.2f})",
                flush=True,
            )
    result = dict(imports=imports, cases=cases, cpu_count=os.cpu_count())
    (HERE / f"{args.tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# The command line's start-up apart from its work (benchmarks/bench_cli.py)",
        "",
        f"One process, one thread, best of {args.repeats} (imports: median); 2 cores, 1-minute "
        "load average beside each row. Work = the phases the CLI times itself (its HDF5 "
        "`timings`); the rest is start-up (interpreter and imports) and output. " + args.note,
        "",
        "| imports | s | load |",
        "|---|---|---|",
        *(f"| {k} | {v['median']:.2f} | {v['load']:.2f} |" for k, v in imports.items()),
        "",
        "| case | wall s | work s | start-up and output s | phases s | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in cases.items():
        phases = ", ".join(f"{k} {v:.2f}" for k, v in c["phases"].items())
        lines.append(
            f"| {name} | {c['wall']:.2f} | {c['work']:.2f} | {c['startup_and_output']:.2f} | "
            f"{phases} | {c['load']:.2f} |"
        )
    (HERE / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
