"""Benchmark: cost of the structure-preserving output layer (double centering + mask).

Paper network (N_H = 32, n = 8, ℓ = 2; 5.06 M parameters), float32, one torch thread: the time of
one training step (forward, loss (2.9), backward, Adam) on a minibatch of 1000 pairs, and of the
online forward pass of all 1024 patches of one coefficient, with and without the projection.
Plain and structured runs alternate, so that a busy machine slows both alike; CPU time is
reported. Writes ``benchmarks/structured.json`` and ``benchmarks/structured.md``::

    ./run python3 benchmarks/bench_structured.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from nn_compress.network import CompressionNetwork, layer_sizes
from nn_compress.training import relative_loss

HERE = Path(__file__).resolve().parent


def _step(model, optimizer, x, y, mask):
    loss = relative_loss(model(x, mask), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sizes = layer_sizes(8, 2)
    models = {s: CompressionNetwork(sizes, structured=s) for s in (False, True)}
    models[True].load_state_dict(models[False].state_dict())
    optimizers = {s: torch.optim.Adam(m.parameters(), lr=1e-4) for s, m in models.items()}
    x, y = torch.rand(1000, sizes[0]), torch.rand(1000, sizes[-1])
    mask = (torch.rand(1000, sizes[-1]) > 0.1).float()
    online, online_mask = torch.rand(1024, sizes[0]), torch.ones(1024, sizes[-1])
    times = {(kind, s): [] for kind in ("train_step", "forward_1024") for s in (False, True)}
    for _ in range(args.repeats):
        for s, model in models.items():
            t0 = time.process_time()
            _step(model, optimizers[s], x, y, mask)
            times[("train_step", s)].append(time.process_time() - t0)
            with torch.inference_mode():
                t0 = time.process_time()
                model(online, online_mask)
                times[("forward_1024", s)].append(time.process_time() - t0)
    best = {
        f"{kind}_{'structured' if s else 'plain'}_ms": 1e3 * min(v)
        for (kind, s), v in times.items()
    }
    record = {
        **best,
        "overhead_train_step": best["train_step_structured_ms"] / best["train_step_plain_ms"] - 1,
        "overhead_forward": best["forward_1024_structured_ms"] / best["forward_1024_plain_ms"] - 1,
        "repeats": args.repeats,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "torch": torch.__version__,
    }
    (HERE / "structured.json").write_text(json.dumps(record, indent=1))
    lines = [
        "# Structure-preserving output layer: cost (benchmarks/bench_structured.py)",
        "",
        "Paper network (5.06 M parameters), float32, one torch thread, best CPU time of "
        f"{args.repeats}; load average {record['load_average']}.",
        "",
        "| | plain [ms] | structured [ms] | overhead |",
        "|---|---|---|---|",
        "| training step (batch 1000, forward + backward + Adam) | "
        f"{best['train_step_plain_ms']:.1f} | "
        f"{best['train_step_structured_ms']:.1f} | {100 * record['overhead_train_step']:+.1f} % |",
        f"| online forward pass (1024 patches) | {best['forward_1024_plain_ms']:.1f} | "
        f"{best['forward_1024_structured_ms']:.1f} | {100 * record['overhead_forward']:+.1f} % |",
        "",
        "Target: < 5 % for both.",
        "",
    ]
    (HERE / "structured.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
