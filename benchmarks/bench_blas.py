"""Which OpenBLAS kernels the environment runs, and what that costs the training step.

This CPU (AMD EPYC, AVX-512 with BF16) is detected by OpenBLAS as "Cooperlake". A host that
exports ``OPENBLAS_CORETYPE=Haswell`` (this machine's shell does) pins OpenBLAS to the AVX2
kernels, and ``./run`` passes the variable through. For each setting, in a fresh process with
one torch and one BLAS thread, this script measures

1. NumPy float32 GEMM (2000 x 2000) in GFLOP/s,
2. one Adam step of the paper network (N_H = 32, n = 8, ℓ = 2; batch 1000, float32), and the
   same step under ``torch.autocast("cpu", dtype=torch.bfloat16)``,

interleaving the settings ``--repeat`` times and reporting medians with the load average beside
them (the machine may be shared). Writes benchmarks/blas.json and .md::

    python3 benchmarks/bench_blas.py [--repeat 3]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
SETTINGS = {"autodetected": None, "OPENBLAS_CORETYPE=Haswell": "Haswell"}

PROBE = r"""
import json, time
import numpy as np
import torch
from threadpoolctl import threadpool_info
from plumbing.threads import limit_threads
from nn_compress.network import CompressionNetwork, layer_sizes

limit_threads(1)
a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
a @ a
t = time.perf_counter()
for _ in range(5):
    a @ a
gflops = 2 * 2000**3 / ((time.perf_counter() - t) / 5) / 1e9

torch.manual_seed(0)
model = CompressionNetwork(layer_sizes(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
x = torch.rand(1000, model.sizes[0])
y = torch.rand(1000, model.sizes[-1])

def step(bf16):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = (model(x) - y).pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.float().backward()
    opt.step()

result = {"gemm_gflops": gflops,
          "blas": sorted({i.get("architecture") or "?" for i in threadpool_info()
                          if i.get("user_api") == "blas"})}
for bf16 in (False, True):
    step(bf16)
    t = time.perf_counter()
    for _ in range(5):
        step(bf16)
    result["adam_step_s_" + ("bf16" if bf16 else "fp32")] = (time.perf_counter() - t) / 5
print(json.dumps(result))
"""


def probe(coretype: str | None) -> dict:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: must be at least 1")
    runs = {name: [] for name in SETTINGS}
    for _ in range(args.repeat):
        for name, coretype in SETTINGS.items():
            runs[name].append(probe(coretype))
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "blas": results[0]["blas"],
            **{
                key: statistics.median(r[key] for r in results)
                for key in ("gemm_gflops", "adam_step_s_fp32", "adam_step_s_bf16")
            },
            "load": [r["load"] for r in results],
        }
    (HERE / "blas.json").write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))
    auto, haswell = summary["autodetected"], summary["OPENBLAS_CORETYPE=Haswell"]
    lines = [
        "# OpenBLAS kernels and the training step (benchmarks/bench_blas.py)",
        "",
        f"One torch and one BLAS thread per process; medians of {args.repeat} interleaved runs; "
        f"{os.cpu_count()} cores, 1-minute load average beside each setting.",
        "",
        "| setting | OpenBLAS kernels | float32 GEMM GFLOP/s | Adam step, float32 | "
        "Adam step, bf16 autocast | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {', '.join(s['blas'])} | {s['gemm_gflops']:.0f} | "
            f"{s['adam_step_s_fp32'] * 1e3:.0f} ms | {s['adam_step_s_bf16'] * 1e3:.0f} ms | "
            f"{', '.join(f'{x:.2f}' for x in s['load'])} |"
        )
    lines += [
        "",
        f"Autodetected over Haswell: GEMM {auto['gemm_gflops'] / haswell['gemm_gflops']:.2f}x, "
        f"float32 Adam step {haswell['adam_step_s_fp32'] / auto['adam_step_s_fp32']:.2f}x faster; "
        f"bf16 over float32 (autodetected) "
        f"{auto['adam_step_s_fp32'] / auto['adam_step_s_bf16']:.2f}x.",
    ]
    (HERE / "blas.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
