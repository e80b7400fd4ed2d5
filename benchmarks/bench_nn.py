"""Benchmarks of nn_compress: online compression, training throughput, dataset generation.

1. Online compression of one coefficient at the paper discretization (N_H = 32, n = 8, ℓ = 2):
   NN-LOD (one batched forward pass + assemble_global) vs PG-LOD (1024 patch problems +
   assemble_global), same CPU, one thread each. Target: NN-LOD >= 15x faster.
2. Training throughput of the 5 063 504-parameter network (pairs (R_T(A), S_{A,T}) per second,
   Adam, batch 1000) on the CPU with 1 and 2 threads, and which BLAS torch loaded.
3. Generation: seconds per sample per rank with 1 and 2 MPI ranks (demos/generate.py), and the
   parallel efficiency t_1 / (2 t_2).

The machine is shared: the load average (``uptime``) is recorded with every figure. No GPU is
lent to this session, so no GPU figure is recorded. Writes benchmarks/bench_nn.json and .md::

    python3 benchmarks/bench_nn.py [--skip-generation]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def load() -> str:
    return pathlib.Path("/proc/loadavg").read_text().split(" ")[0:3].__str__()


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_online(repeat: int) -> dict:
    import torch
    from mpi4py import MPI

    from lod_fenicsx.assembly import coarse_layout, assemble_global
    from lod_fenicsx.corrector import PatchSolver
    from nn_compress.fields import sample
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    torch.set_num_threads(1)
    n_coarse, n_sub, ell = 32, 8, 2
    a = sample("Ams", 0, 0, n_coarse * n_sub).coefficient
    layout = coarse_layout(MPI.COMM_SELF, n_coarse)
    ps = PatchSolver(n_coarse, n_sub, ell)
    elements = np.arange(n_coarse**2)
    surrogate = NNLODSurrogate(CompressionNetwork(layer_sizes(n_sub, ell)), n_coarse, n_sub, ell)

    def pglod():
        assemble_global(
            MPI.COMM_SELF, ps.local_matrices(a), elements, n_coarse, ell, layout=layout
        ).destroy()

    def nnlod():
        surrogate.matrix(MPI.COMM_SELF, a, layout=layout).destroy()

    def forward_only():
        surrogate.local_matrices(a)

    bf16 = NNLODSurrogate(surrogate.model, n_coarse, n_sub, ell, dtype=torch.bfloat16)

    def nnlod_bf16():
        bf16.matrix(MPI.COMM_SELF, a, layout=layout).destroy()

    pglod(), nnlod()  # warm-up (symbolic factorisations, torch kernels)
    out = {"load_before": load()}
    out["pglod_s"] = median_time(pglod, repeat)
    out["nnlod_s"] = median_time(nnlod, 3 * repeat)
    out["nnlod_forward_s"] = median_time(forward_only, 3 * repeat)
    out["speedup"] = out["pglod_s"] / out["nnlod_s"]
    nnlod_bf16()
    out["nnlod_bf16_s"] = median_time(nnlod_bf16, 3 * repeat)
    out["speedup_bf16"] = out["pglod_s"] / out["nnlod_bf16_s"]
    ref, approx = surrogate.local_matrices(a), bf16.local_matrices(a)
    out["bf16_relative_difference_local_matrices"] = float(
        np.linalg.norm(ref - approx) / np.linalg.norm(ref)
    )
    out["load_after"] = load()
    return out


def blas_in_use() -> dict:
    import torch

    x = torch.rand(512, 512)
    (x @ x).sum().item()  # make sure BLAS is loaded
    maps = pathlib.Path("/proc/self/maps").read_text()
    libs = sorted(
        {
            line.split()[-1]
            for line in maps.splitlines()
            if "blas" in line.lower() or "mkl" in line.lower()
        }
    )
    info = torch.__config__.show()
    return {
        "loaded_libraries": libs,
        "openblas": any("openblas" in lib for lib in libs),
        "torch_blas_info": [l.strip() for l in info.split(",") if "BLAS_INFO" in l],
    }


def bench_training(steps: int) -> dict:
    import torch

    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.training import relative_loss

    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = CompressionNetwork(layer_sizes(8, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        x, y = torch.rand(1000, 1600) * 4 + 1, torch.rand(1000, 144)

        def step():
            loss = relative_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t = median_time(step, steps)
        out[f"threads_{threads}"] = {"seconds_per_step": t, "pairs_per_s": 1000 / t, "load": load()}
    return out


def bench_generation(samples: int) -> dict:
    """Time demos/generate.py on the paper discretization with 1 and 2 ranks (fresh files)."""
    out = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        for ranks in (1, 2):
            path = pathlib.Path(tmp) / f"gen{ranks}.h5"
            cmd = [
                "mpirun",
                "-n",
                str(ranks),
                sys.executable,
                str(ROOT / "demos/generate.py"),
                "--preset",
                "paper000-reduced",
                "--samples-per-family",
                "1",
                "--output",
                str(path),
                "--no-progress",
            ]
            # 10 families x 1 sample = 10 samples of the paper discretization.
            before = load()
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - t0
            if res.returncode:
                raise RuntimeError(f"generation failed: {res.stderr[-2000:]}")
            line = [l for l in res.stdout.splitlines() if l.strip().startswith("{")][-1]
            summary = json.loads(line)
            out[f"ranks_{ranks}"] = {
                "samples": summary["computed"],
                "seconds": summary["seconds"],
                "seconds_per_sample_per_rank": summary["seconds_per_sample_per_rank"],
                "wall_with_startup_s": wall,
                "load_before": before,
                "load_after": load(),
            }
    t1, t2 = out["ranks_1"]["seconds"], out["ranks_2"]["seconds"]
    out["efficiency_1_to_2"] = t1 / (2 * t2)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--skip-generation", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    result = {
        "gpu": "none lent to this session (status: can_start_another false); CPU figures only",
        "cpu_count": os.cpu_count(),
        "uptime_start": load(),
    }
    result["blas"] = blas_in_use()
    print("blas", result["blas"], flush=True)
    result["online_compression"] = bench_online(args.repeat)
    print("online", result["online_compression"], flush=True)
    result["training"] = bench_training(5)
    print("training", result["training"], flush=True)
    if not args.skip_generation:
        result["generation"] = bench_generation(10)
        print("generation", result["generation"], flush=True)
    (HERE / "bench_nn.json").write_text(json.dumps(result, indent=1))
    oc, tr = result["online_compression"], result["training"]
    lines = [
        "# nn_compress benchmarks",
        "",
        f"GPU: {result['gpu']}. Load averages (1, 5, 15 min) are given with each figure: on this "
        "2-core machine a load above 2 means other jobs inflated the times.",
        "",
        f"BLAS loaded by torch: {', '.join(result['blas']['loaded_libraries'])} "
        f"(OpenBLAS: {result['blas']['openblas']})",
        "",
        "| figure | value | load |",
        "|---|---|---|",
        "| PG-LOD compression, one sample (1024 patches + assembly), 1 thread | "
        f"{oc['pglod_s']:.3f} s | {oc['load_before']} |",
        f"| NN-LOD compression (forward + assembly), 1 thread | {oc['nnlod_s']:.4f} s | "
        f"{oc['load_after']} |",
        f"| of which the forward pass | {oc['nnlod_forward_s']:.4f} s | |",
        f"| speed-up NN-LOD vs PG-LOD (target >= 15) | {oc['speedup']:.1f}x | |",
        f"| NN-LOD with a bfloat16 forward pass (AVX512-BF16) | {oc['nnlod_bf16_s']:.4f} s | |",
        f"| speed-up bfloat16 NN-LOD vs PG-LOD | {oc['speedup_bf16']:.1f}x (relative change of "
        f"the local matrices {oc['bf16_relative_difference_local_matrices']:.1e}) | |",
    ]
    for k, v in tr.items():
        lines.append(
            f"| training, batch 1000, {k.replace('_', ' ')} | {v['pairs_per_s']:.0f} pairs/s "
            f"({v['seconds_per_step']:.3f} s/step) | {v['load']} |"
        )
    if "generation" in result:
        g = result["generation"]
        for r in (1, 2):
            x = g[f"ranks_{r}"]
            lines.append(
                f"| generation, paper discretization, {r} rank(s) | "
                f"{x['seconds_per_sample_per_rank']:.2f} s per sample per rank "
                f"({x['samples']} samples in {x['seconds']:.1f} s) | {x['load_before']} |"
            )
        lines.append(f"| parallel efficiency 1 -> 2 ranks | {g['efficiency_1_to_2']:.2f} | |")
    (HERE / "bench_nn.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
