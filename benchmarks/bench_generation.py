"""Benchmark: dataset generation per coefficient at the paper-004 settings, old against new.

N_H = 32, n = 8, ℓ = 2 (1024 patches per coefficient), lognormal coefficients of the three
contrasts (paper 004, Table 1). Each round generates the same samples with every backend into
a file of its own (``nn_compress.dataset.generate`` on one process: the coefficient, its local
matrices and the HDF5 write), the backends taking turns so that both see the same machine
load; reported: seconds per coefficient (wall and CPU) per round, their median and best, and
the largest relative difference of the local matrices between the backends. Writes
``benchmarks/<tag>.json`` and ``benchmarks/<tag>.md`` (tag ``generation``)::

    ./run python3 benchmarks/bench_generation.py                    # petsc against condensed
    ./run python3 benchmarks/bench_generation.py --rounds 5 --samples 6
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", nargs="+", default=["petsc", "condensed"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--samples", type=int, default=3, help="coefficients per family and round")
    p.add_argument("--tag", default="generation")
    args = p.parse_args(argv)

    import h5py

    from plumbing.threads import limit_threads
    from nn_compress.dataset import GenerationConfig, SerialComm, generate

    limit_threads(1)  # one core, as one rank of mpirun -n 16 generate.py
    families = ("lognormal-low", "lognormal-moderate", "lognormal-high")
    load_before = os.getloadavg()
    rows, diffs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            # Another base seed per round: new coefficients, the same for every backend.
            config = GenerationConfig(
                32, 8, 2, {f: args.samples for f in families}, base_seed=1000 + r
            )
            files = {}
            for backend in args.backends:
                path = Path(tmp) / f"{backend}-{r}.h5"
                wall, cpu = time.perf_counter(), time.process_time()
                generate(SerialComm(), config, path, progress=False, backend=backend)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                n = config.n_samples
                rows.append({"round": r, "backend": backend, "wall": wall / n, "cpu": cpu / n})
                print(
                    f"round {r}: {backend:10s} {wall / n:.3f} s / coefficient (CPU {cpu / n:.3f})"
                )
                files[backend] = path
            with h5py.File(files[args.backends[0]]) as f:
                ref = f["local_matrices"][:]
            for backend in args.backends[1:]:
                with h5py.File(files[backend]) as f:
                    diffs.append(
                        float(np.abs(f["local_matrices"][:] - ref).max() / np.abs(ref).max())
                    )
    load_after = os.getloadavg()
    summary = {}
    for backend in args.backends:
        mine = [row for row in rows if row["backend"] == backend]
        summary[backend] = {
            k: {"median": float(np.median([m[k] for m in mine])), "best": min(m[k] for m in mine)}
            for k in ("wall", "cpu")
        }
    result = {
        "configuration": dataclasses.asdict(config) | {"base_seed": "1000 + round"},
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "load_before": load_before,
        "load_after": load_after,
        "rounds": rows,
        "summary": summary,
        "max_relative_difference": max(diffs) if diffs else None,
    }
    (HERE / f"{args.tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    first = args.backends[0]
    lines = [
        "# Dataset generation per coefficient: benchmark",
        "",
        "N_H = 32, n = 8, ℓ = 2 (paper 004), lognormal low / moderate / high, "
        f"{args.samples} coefficients of each per round, {args.rounds} rounds, backends taking "
        f"turns; one process, one thread. Produced by `benchmarks/bench_generation.py` "
        f"(numbers in `{args.tag}.json`).",
        "",
        f"Machine: {result['cpu']}; load average (1, 5, 15 min) before "
        f"{[round(x, 2) for x in load_before]}, after {[round(x, 2) for x in load_after]} (a load "
        "above the 2 cores inflates the wall times; the CPU times count this process only).",
        "",
        "| backend | s / coefficient, median (wall) | best (wall) | median (CPU) | best (CPU) "
        f"| vs {first} (median wall) |",
        "|---|---|---|---|---|---|",
    ]
    for backend, s in summary.items():
        ratio = s["wall"]["median"] / summary[first]["wall"]["median"]
        lines.append(
            f"| {backend} | {s['wall']['median']:.3f} | {s['wall']['best']:.3f} | "
            f"{s['cpu']['median']:.3f} | {s['cpu']['best']:.3f} | {ratio:.2f}x |"
        )
    if diffs:
        lines += [
            "",
            f"Largest relative difference of the local matrices from {first}: "
            f"{result['max_relative_difference']:.1e}.",
        ]
    (HERE / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
