"""Iterations per second of Alg. 1 on CPU: Ms-PINN vs Hybrid at each eps of Table 1, and what the
closed-form jet, batched seeds and float32 buy.

The hybrid step adds the coarse state (forward), the network on the N_h coarse nodes, and the
adjoint solve (backward) to the PINN step; the target is <= 25% overhead per iteration. Cases:

* ``autograd``: v', v'' by double-backward autograd (the code before the jet), 1 seed, float32;
* ``jet``: the closed-form pass of ``hybrid_pinn.network`` (the default), 1 seed, float32;
* ``jet x3``: 3 seeds side by side as one batched network (seed-iterations/s = 3 x it/s);
* ``jet f64``: 1 seed, float64.

CPU time per iteration is reported beside wall time, since the machine's 2 cores are shared; the
load average at the start and end is recorded.

    ./run python3 benchmarks/bench_hybrid.py [--iterations 100]   -> benchmarks/hybrid.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from hybrid_pinn.training import Trainer, paper_config

CASES = {
    "autograd": dict(derivatives="autograd", seeds=(0,), dtype="float32"),
    "jet": dict(seeds=(0,), dtype="float32"),
    "jet x3": dict(seeds=(0, 1, 2), dtype="float32"),
    "jet f64": dict(seeds=(0,), dtype="float64"),
}


def time_steps(trainer: Trainer, iterations: int) -> tuple[float, float]:
    """Seconds per iteration (wall, CPU) over ``iterations`` steps after a short warm-up."""
    for _ in range(5):
        trainer.step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        trainer.step()
    return (time.perf_counter() - wall) / iterations, (time.process_time() - cpu) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings per case")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    load_start = os.getloadavg()
    results = {
        "device": "CPU only (no GPU lent to this session), 1 torch/OpenBLAS thread",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "iterations": args.iterations,
        "repeats": args.repeats,
        "load_average_start": load_start,
        "cases": [],
    }
    lines = [
        "# Alg. 1 iterations per second on CPU (1 thread; CPU time, best of repeats)",
        "",
        f"No GPU was lent to this session; CPU: {results['cpu']}, torch {torch.__version__}. "
        "Seconds of CPU time per iteration, inverted; 'seed-it/s' counts every seed of a "
        "batched run.",
        "",
        "| eps | M | width | case | Ms-PINN it/s | Hybrid it/s | Hybrid seed-it/s | "
        "hybrid overhead (CPU) | hybrid overhead (wall) | Hybrid speed-up over autograd |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for inv in (16, 48, 64):
        base = None
        for name, settings in CASES.items():
            timing = {}
            for method in ("pinn", "hybrid"):
                trainer = Trainer(paper_config(inv, method, iterations=10**9, **settings))
                timing[method] = min(
                    (time_steps(trainer, args.iterations) for _ in range(args.repeats)),
                    key=lambda t: t[1],
                )
            seeds = len(settings["seeds"])
            config = paper_config(inv)
            case = dict(
                eps=f"1/{inv}",
                case=name,
                n_collocation=config.n_collocation,
                width=config.width,
                seeds=seeds,
                pinn_it_per_s_cpu=1 / timing["pinn"][1],
                hybrid_it_per_s_cpu=1 / timing["hybrid"][1],
                pinn_it_per_s_wall=1 / timing["pinn"][0],
                hybrid_it_per_s_wall=1 / timing["hybrid"][0],
                overhead_cpu=timing["hybrid"][1] / timing["pinn"][1] - 1.0,
                overhead_wall=timing["hybrid"][0] / timing["pinn"][0] - 1.0,
            )
            if name == "autograd":
                base = case["hybrid_it_per_s_cpu"]
            case["hybrid_seed_it_per_s_cpu"] = seeds * case["hybrid_it_per_s_cpu"]
            case["speedup_over_autograd"] = case["hybrid_seed_it_per_s_cpu"] / base
            results["cases"].append(case)
            lines.append(
                f"| 1/{inv} | {config.n_collocation} | {config.width} | {name} | "
                f"{case['pinn_it_per_s_cpu']:.1f} | {case['hybrid_it_per_s_cpu']:.1f} | "
                f"{case['hybrid_seed_it_per_s_cpu']:.1f} | "
                f"{100 * case['overhead_cpu']:+.0f}% | {100 * case['overhead_wall']:+.0f}% | "
                f"{case['speedup_over_autograd']:.2f}x |"
            )
            print(lines[-1], flush=True)
    results["load_average_end"] = os.getloadavg()
    lines += [
        "",
        f"Load average (1, 5, 15 min) at the start {tuple(round(v, 2) for v in load_start)}, "
        f"at the end {tuple(round(v, 2) for v in results['load_average_end'])} on 2 cores.",
    ]
    with open(os.path.join(here, "hybrid.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(here, "hybrid.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
