"""Iterations per second of Alg. 1 on CPU: Ms-PINN vs Hybrid at each eps of Table 1.

The hybrid step adds the coarse state solve (forward), the network on the N_h coarse nodes, and
the adjoint solve (backward) to the PINN step; the target is <= 25% overhead per iteration.
Both wall time and process CPU time are recorded, since the machine's 2 cores are shared.

    ./run python3 benchmarks/bench_hybrid.py [--iterations 200]   -> benchmarks/hybrid.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from hybrid_pinn.training import Trainer, paper_config


def time_steps(trainer: Trainer, iterations: int) -> tuple[float, float]:
    """Seconds per iteration (wall, CPU) over ``iterations`` steps after a short warm-up."""
    for _ in range(10):
        trainer.step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        trainer.step()
    return (time.perf_counter() - wall) / iterations, (time.process_time() - cpu) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings per case")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    results = {
        "device": "CPU only (no GPU lent to this session), 1 torch/OpenBLAS thread",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "iterations": args.iterations,
        "note": "2 shared cores with other jobs running; best of repeats",
        "cases": [],
    }
    lines = [
        "# Alg. 1 iterations per second on CPU (1 thread; best of repeats)",
        "",
        f"No GPU was lent to this session; CPU: {results['cpu']}, torch {torch.__version__}.",
        "",
        "| eps | M | width | Ms-PINN it/s (CPU time) | Hybrid it/s (CPU time) | overhead (CPU) | overhead (wall) |",
        "|---|---|---|---|---|---|---|",
    ]
    for inv in (16, 48, 64):
        timing = {}
        for method in ("pinn", "hybrid"):
            trainer = Trainer(paper_config(inv, method, iterations=10**9))
            best = min((time_steps(trainer, args.iterations) for _ in range(args.repeats)), key=lambda t: t[1])
            timing[method] = best
        overhead_cpu = timing["hybrid"][1] / timing["pinn"][1] - 1.0
        overhead_wall = timing["hybrid"][0] / timing["pinn"][0] - 1.0
        config = paper_config(inv)
        case = dict(eps=f"1/{inv}", n_collocation=config.n_collocation, width=config.width,
                    pinn_it_per_s_cpu=1 / timing["pinn"][1], hybrid_it_per_s_cpu=1 / timing["hybrid"][1],
                    pinn_it_per_s_wall=1 / timing["pinn"][0], hybrid_it_per_s_wall=1 / timing["hybrid"][0],
                    overhead_cpu=overhead_cpu, overhead_wall=overhead_wall)
        results["cases"].append(case)
        lines.append(f"| 1/{inv} | {config.n_collocation} | {config.width} | {case['pinn_it_per_s_cpu']:.1f} | "
                     f"{case['hybrid_it_per_s_cpu']:.1f} | {100 * overhead_cpu:+.0f}% | {100 * overhead_wall:+.0f}% |")
        print(lines[-1], flush=True)
    with open(os.path.join(here, "hybrid.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(here, "hybrid.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
