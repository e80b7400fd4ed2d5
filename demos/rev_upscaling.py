"""REV upscaling in 2-D: Example 4.1 of the hybrid paper (Sec. 4.1, Alg. 2, Prop. 4.4).

For three coefficients,

    K_1 = 3 + sin(2 pi x_1 / eps) + sin(2 pi x_2 / eps),              eps = 1/32,
    K_2 = 3 + sin(2 pi x_1 / eps_1) + 1.5 cos(2 pi x_2 / eps_2),      eps_1 = 1/16, eps_2 = 1/32,
    K_3 = 1 / (2 + 1.8 sin(2 pi (2 x_1 - x_2) / eps)),                eps = 1/16,

and q = exp(-|x - 0.5|^2), solve the cell problems (35) with P1 on h = 1/128, 1/256, 1/512,
upscale with eq. (43) (V = Omega), extrapolate the second-order sequence (Richardson), compare
with the paper's eq. (50), and solve the coarse problem (48) with the upscaled tensor (Fig. 1).

    ./run mpirun -n 2 python3 demos/rev_upscaling.py              # h = 1/128, 1/256, 1/512
    ./run python3 demos/rev_upscaling.py --preset quick           # h = 1/32, 1/64, 1/128
    ./run mpirun -n 2 python3 demos/rev_upscaling.py --cell quadrilateral  # Q1: independent check

Writes results/hybrid/rev_upscaling[_q1].{json,md} and fig1_rev_upscaling[_q1].png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import ufl
from mpi4py import MPI

from plumbing.cli import check_at_least, check_writable, collective, run

TWO_PI = 2.0 * math.pi
COEFFICIENTS = {
    "K1": lambda x: 3.0 + ufl.sin(TWO_PI * x[0] * 32) + ufl.sin(TWO_PI * x[1] * 32),
    "K2": lambda x: 3.0 + ufl.sin(TWO_PI * x[0] * 16) + 1.5 * ufl.cos(TWO_PI * x[1] * 32),
    "K3": lambda x: 1.0 / (2.0 + 1.8 * ufl.sin(TWO_PI * (2.0 * x[0] - x[1]) * 16)),
}
PAPER = {  # eq. (50)
    "K1": [[2.85, 0.00], [0.00, 2.85]],
    "K2": [[2.83, 0.00], [0.00, 2.59]],
    "K3": [[0.65, 0.25], [0.25, 1.02]],
}
SOURCE = lambda x: ufl.exp(-((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2))
PRESETS = {"quick": (32, 64, 128), "paper": (128, 256, 512)}
ELEMENTS = {"triangle": "P1 triangles", "quadrilateral": "Q1 quadrilaterals"}


def gather_nodal(function):
    """Owned dof coordinates and values of a P1 function, gathered on rank 0 (for plotting)."""
    V = function.function_space
    n = V.dofmap.index_map.size_local
    xy = V.tabulate_dof_coordinates()[:n, :2]
    values = function.x.array[:n]
    comm = V.mesh.comm
    parts = comm.gather((xy, values), root=0)
    if comm.rank != 0:
        return None
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset", choices=PRESETS, default="paper", help="mesh sequence (default: paper)"
    )
    parser.add_argument(
        "--quadrature-degree", type=int, default=6, help="quadrature degree for K (default 6)"
    )
    parser.add_argument(
        "--cell",
        choices=ELEMENTS,
        default="triangle",
        help="P1 on triangles (default) or Q1 on quadrilaterals: a second discretization "
        "whose extrapolated tensor must agree with the first",
    )
    parser.add_argument(
        "--output-dir", default="results/hybrid", help="where JSON, Markdown and PNG go"
    )
    parser.add_argument("--out", dest="output_dir", help=argparse.SUPPRESS)  # the other demos' name
    args = parser.parse_args(argv)
    # DOLFINx after plumbing.cli.run has made sys.argv UTF-8 (DOLFINx hands it to C++)
    from hybrid_pinn.upscaling import solve_cell_problems, solve_coarse, upscaled_tensor
    from lod_fenicsx.discretization import unit_square

    comm = MPI.COMM_WORLD
    rank0 = comm.rank == 0
    with collective(comm):  # every rank checks the same arguments: one line from rank 0
        check_at_least("--quadrature-degree", args.quadrature_degree, 0)
        check_writable(args.output_dir, "output folder", folder=True)

    sizes = PRESETS[args.preset]
    results = {
        "preset": args.preset,
        "ranks": comm.size,
        "quadrature_degree": args.quadrature_degree,
        "element": ELEMENTS[args.cell],
        "meshes": list(sizes),
        "coefficients": {},
    }
    plots = {}
    for name, coefficient in COEFFICIENTS.items():
        entries = []
        for n in sizes:
            start = time.perf_counter()
            domain = unit_square(comm, n, args.cell)
            cells = solve_cell_problems(
                domain, coefficient, SOURCE, quadrature_degree=args.quadrature_degree
            )
            tensor = upscaled_tensor(cells)[0, 0]
            seconds = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            entries.append(tensor)
            if rank0:
                print(
                    f"{name} h=1/{n}: {np.array2string(tensor, precision=4)}  ({seconds:.1f} s)",
                    flush=True,
                )
            if n == sizes[1]:  # Fig. 1 from the middle mesh: u_i = w_i - x_i and the coarse y
                y = solve_coarse(domain, tensor, SOURCE)
                plots[name] = [gather_nodal(cells.w[0]), gather_nodal(cells.w[1]), gather_nodal(y)]
        entries = np.array(entries)
        # Second-order Richardson extrapolation from the two finest meshes, and the observed order.
        extrapolated = entries[2] + (entries[2] - entries[1]) / 3.0
        with np.errstate(divide="ignore", invalid="ignore"):
            order = np.log2(np.abs(entries[1] - entries[0]) / np.abs(entries[2] - entries[1]))
        results["coefficients"][name] = {
            "h": {f"1/{n}": t.tolist() for n, t in zip(sizes, entries)},
            "richardson": extrapolated.tolist(),
            "observed_order": order.tolist(),
            "paper": PAPER[name],
            "richardson_minus_paper": (extrapolated - np.array(PAPER[name])).tolist(),
        }

    if not rank0:
        return
    suffix = "" if args.cell == "triangle" else "_q1"
    stem = os.path.join(args.output_dir, "rev_upscaling" + suffix)
    with open(stem + ".json", "w") as f:
        json.dump(results, f, indent=1)
    lines = [
        f"# Example 4.1: upscaled tensors ({ELEMENTS[args.cell]}, V = Omega, eq. 43), "
        f"preset {args.preset}, {comm.size} rank(s)",
        "",
        "| K | entry | "
        + " | ".join(f"h=1/{n}" for n in sizes)
        + " | Richardson | order | paper (50) | diff |",
        "|---|---|" + "---|" * (len(sizes) + 4),
    ]
    for name, r in results["coefficients"].items():
        for i, j in [(0, 0), (0, 1), (1, 0), (1, 1)]:
            values = " | ".join(f"{r['h'][f'1/{n}'][i][j]:.4f}" for n in sizes)
            lines.append(
                f"| {name} | {i + 1}{j + 1} | {values} | {r['richardson'][i][j]:.4f} | "
                f"{r['observed_order'][i][j]:.2f} | {r['paper'][i][j]:.2f} | "
                f"{r['richardson_minus_paper'][i][j]:+.4f} |"
            )
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(12, 11))
    for row, (name, fields) in enumerate(plots.items()):
        for col, (title, (xy, values)) in enumerate(
            zip(("$u_1 = w_1 - x_1$", "$u_2 = w_2 - x_2$", "coarse $y$"), fields)
        ):
            shift = xy[:, 0] if col == 0 else xy[:, 1] if col == 1 else 0.0
            image = axes[row, col].tricontourf(
                xy[:, 0], xy[:, 1], values - shift, levels=40, cmap="viridis"
            )
            axes[row, col].set_title(f"{name}: {title}")
            axes[row, col].set_aspect("equal")
            fig.colorbar(image, ax=axes[row, col], shrink=0.8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.output_dir, f"fig1_rev_upscaling{suffix}.png"), dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(run("rev_upscaling", main, comm=MPI.COMM_WORLD))
