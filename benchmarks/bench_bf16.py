"""What bfloat16 autocast costs the compression network in accuracy, and what it saves in time.

Issue 19 asks before the paper-size runs use it: train the paper network (N_H = 32, n = 8, ℓ = 2)
in float32, in bf16 autocast throughout, and in bf16 with a final float32 phase, two seeds each,
and compare the loss curves and the final test loss with the seed-to-seed spread of float32.
To fit beside the long runs, the runs use a subset of the paper000 dataset in ``$NH_STATE``
(``--families``, ``--max-per-family``; validation and test splits of those families whole) and
the reduced schedule (``reduced000``: 1e-3 for 8 epochs, 1e-4 for 3, 1e-5 for 1); the final
float32 phase is the last 4 epochs (the small step sizes). One torch and one BLAS thread.
Checkpoints go to ``$NH_STATE/checkpoints/bench-bf16/`` (a rerun resumes and skips finished
runs). Writes benchmarks/bf16.json and .md::

    python3 benchmarks/bench_bf16.py [--families A1 Ams] [--max-per-family 40] [--seeds 0 1]
"""

import argparse
import json
import os
import pathlib
import statistics
import sys

from plumbing.checkpoint import state_path
from nn_compress.pipeline import dataset_path, test_losses
from nn_compress.training import SCHEDULES, TrainConfig, train

HERE = pathlib.Path(__file__).resolve().parent
VARIANTS = {"float32": None, "bf16": 12, "bf16, float32 last 4 epochs": 8}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=["A1", "Ams"])
    parser.add_argument("--max-per-family", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    schedule = SCHEDULES["reduced000"]
    runs = {}
    for name, bf16_epochs in VARIANTS.items():
        for seed in args.seeds:
            folder = f"{name.split(',')[0]}-{bf16_epochs}-s{seed}"
            cfg = TrainConfig(
                dataset=str(dataset_path("paper000")),
                checkpoint_dir=str(state_path("checkpoints", "bench-bf16", folder)),
                epochs=schedule.epochs,
                schedule=schedule.stages,
                seed=seed,
                families=args.families,
                max_per_family=args.max_per_family,
                bf16_epochs=bf16_epochs,
            )
            history = train(cfg, log=lambda line: print(f"{name}, seed {seed}: {line}"))
            steps = history["steps"][-1]
            runs.setdefault(name, []).append(
                {
                    "seed": seed,
                    "train_loss": history["train_loss"],
                    "val_loss": history["val_loss"],
                    "test_loss": test_losses(cfg)["last.pt"],
                    "seconds_per_step": sum(history["seconds"]) / steps,
                    "steps": steps,
                }
            )
    summary = {
        name: {
            "test_loss": [r["test_loss"] for r in rs],
            "mean_test_loss": statistics.mean(r["test_loss"] for r in rs),
            "seconds_per_step": statistics.mean(r["seconds_per_step"] for r in rs),
        }
        for name, rs in runs.items()
    }
    fp32 = summary["float32"]["test_loss"]
    spread = max(fp32) - min(fp32)
    setup = {
        "families": args.families,
        "max_per_family": args.max_per_family,
        "schedule": "reduced000",
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    (HERE / "bf16.json").write_text(
        json.dumps({"setup": setup, "runs": runs, "summary": summary}, indent=1)
    )
    lines = [
        "# bfloat16 autocast in training (benchmarks/bench_bf16.py)",
        "",
        f"Paper network on {args.max_per_family} training samples of each of "
        f"{', '.join(args.families)} from the paper000 dataset, schedule reduced000 "
        f"({runs['float32'][0]['steps']} Adam steps of batch 1000), seeds "
        f"{', '.join(map(str, args.seeds))}; one thread; load average at the end "
        f"{', '.join(f'{x:.2f}' for x in setup['load_average'])} on {setup['cores']} cores "
        "(the long runs share the machine, so times compare with each other only).",
        "",
        "| variant | test loss per seed | mean | mean - float32 mean, in float32 spreads | "
        "s / step |",
        "|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        shift = (s["mean_test_loss"] - summary["float32"]["mean_test_loss"]) / spread
        lines.append(
            f"| {name} | {', '.join(f'{t:.4e}' for t in s['test_loss'])} | "
            f"{s['mean_test_loss']:.4e} | {shift:+.2f} | {s['seconds_per_step']:.3f} |"
        )
    lines += ["", "Validation loss per epoch (seed by seed):", ""]
    for name, rs in runs.items():
        for r in rs:
            lines.append(
                f"- {name}, seed {r['seed']}: " + ", ".join(f"{v:.3e}" for v in r["val_loss"])
            )
    (HERE / "bf16.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
