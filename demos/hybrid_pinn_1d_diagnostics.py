r"""Why Table 2 comes out as it does: one-factor-at-a-time runs, and three probes of the PINN loss.

``factors``: each cell changes one reading of the paper (Fourier convention, learning-rate
schedule, M, float32/64, tau_2, coupling term (11)/(16), coarse mesh) from the base reading of
``hybrid_pinn.training.TrainingConfig`` and trains >= 2 seeds side by side with everything else
fixed at Table 1. Cells are resumable runs (``hybrid_pinn.runs``); the table lists the relative
L^2 error per seed at chosen iterations. Runtime: about 5 min per eps = 1/16 cell of 2 seeds and
30 000 iterations on one core (float32), 10 min per eps = 1/48 cell of 2 seeds and 20 000.

The probes (Table 1's network, float64, one seed; minutes each, lbfgs on 2000 points ~20 min):

* ``pinn``: train the Ms-PINN and report, every 500 iterations, J on the M training points and
  between them (4800 points), and the relative L^2 error split into its smooth part (moving
  average over one period eps) and the rest.
* ``fit``: fit the same network to the FE reference by least squares (no PINN loss) and report
  the error it reaches and the J of the fitted network.
* ``lbfgs``: ``--iterations`` Adam steps as in ``pinn``, then minimise J on
  ``--lbfgs-collocation`` equidistant points with L-BFGS: does J -> 0 on those points give u?

    ./run python3 demos/hybrid_pinn_1d_diagnostics.py factors --cells schedule-wang fourier-literal
    ./run python3 demos/hybrid_pinn_1d_diagnostics.py factors --list
    ./run python3 demos/hybrid_pinn_1d_diagnostics.py pinn --iterations 3000
    ./run python3 demos/hybrid_pinn_1d_diagnostics.py lbfgs --iterations 3000 \
        --lbfgs-collocation 2000

``floor``: no training. The exact minimiser of each method's objective over a sine series
(``hybrid_pinn.minimiser``): its relative L^2 error is where a run with that objective ends when
its optimiser converges, so the Hybrid's error in Table 2 can be read against it. Table 1's
tau_2 under every reading of the text (coarse mesh, coupling term, the compression Qbar_delta,
R_delta's norm, J's weights), tau_2 swept at each eps, the gap of u under each reading, and the
V-PINN Hybrid's two tau_2 of Fig. 2; writes floor.{json,md,png} and floor_readings.md (the
floors and gaps per reading; a few minutes of minimisation on one core; ``--cells`` picks cases).

    ./run python3 demos/hybrid_pinn_1d_diagnostics.py floor --output-dir demos/results/hybrid_1d

See demos/results/hybrid_1d/README.md for what they printed and what it means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time

import numpy as np
import torch

from hybrid_pinn.losses import collocation_points, pinn_loss, pinn_residual
from hybrid_pinn.minimiser import objective_minimiser
from hybrid_pinn.runs import (
    PAPER_TABLE_2,
    check_run,
    error_at,
    run_config,
    summarize,
    train_run,
)
from hybrid_pinn.training import Trainer, paper_config
from plumbing.checkpoint import exclusive_folder
from plumbing.cli import check_writable, run
from plumbing.readers import read_json
from plumbing.threads import limit_threads

# One factor at a time: key -> (1/eps, method, iterations, overrides of the base reading).
# Base: TrainingConfig's defaults on Table 1 (angular features, its schedule, float32, (11),
# N_h nodes).
FACTORS = {
    "base-pinn": (16, "pinn", 30000, {}),
    "base-hybrid": (16, "hybrid", 30000, {}),
    "fourier-literal": (16, "pinn", 30000, dict(fourier="literal")),
    "fourier-literal-hybrid": (16, "hybrid", 30000, dict(fourier="literal")),
    "schedule-stepped": (16, "pinn", 30000, dict(schedule="stepped")),
    "schedule-continuous": (16, "pinn", 30000, dict(schedule="continuous")),
    "schedule-per-10000": (16, "pinn", 30000, dict(schedule="per-10000")),
    "schedule-wang": (16, "pinn", 30000, dict(schedule="wang")),
    "schedule-constant": (16, "pinn", 30000, dict(schedule="constant")),
    "collocation-560": (16, "pinn", 30000, dict(n_collocation=560)),
    "collocation-140": (16, "pinn", 30000, dict(n_collocation=140)),
    "float64": (16, "pinn", 30000, dict(dtype="float64")),
    "tau2-1e4": (16, "hybrid", 30000, dict(tau2=1e4)),
    "tau2-1e3": (16, "hybrid", 30000, dict(tau2=1e3)),
    "tau2-1e2": (16, "hybrid", 30000, dict(tau2=1e2)),
    "coupling-16": (16, "hybrid", 30000, dict(coupling="16")),
    "coarse-mesh-cells": (16, "hybrid", 30000, dict(coarse_mesh="cells")),
    "48-base-pinn": (48, "pinn", 20000, {}),
    "48-base-hybrid": (48, "hybrid", 20000, {}),
    "48-tau2-1e4": (48, "hybrid", 20000, dict(tau2=1e4)),
    "48-tau2-1e5": (48, "hybrid", 20000, dict(tau2=1e5)),
    "48-fourier-literal": (48, "pinn", 20000, dict(fourier="literal")),
    "48-literal-collocation-3360": (48, "pinn", 20000, dict(fourier="literal", n_collocation=3360)),
    "48-collocation-1680": (48, "pinn", 20000, dict(n_collocation=1680)),
    "48-lr-2e-3": (48, "pinn", 20000, dict(lr=2e-3)),
    # Fig. 2's protocol of the V-PINN, for the Ms-PINN: a strong coupling first, then Table 1's.
    "48-tau2-1e5-switch": (48, "hybrid", 20000, dict(tau2=1e5, tau2_switch=(10000, 1000.0))),
    # Choices of Wang et al.'s code that the paper does not state, and m (the paper gives none).
    "48-bias-normal": (48, "pinn", 20000, dict(bias_init="normal")),
    "48-input-normalized": (48, "pinn", 20000, dict(normalize_input=True)),
    "48-features-100": (48, "pinn", 20000, dict(n_features=100)),
    "48-features-200": (48, "pinn", 20000, dict(n_features=200)),
    "48-features-400": (48, "pinn", 20000, dict(n_features=400)),
    "48-features-400-hybrid": (48, "hybrid", 20000, dict(n_features=400)),
    # Round 2 (issue 20): m at 1/16 and 1/64 (base m = width // 2: 50 and 75), B trained, and the
    # text's literal 2π in the second scale only (angular rho_2 = 2π/eps), with M large enough
    # that J between the points equals J on them.
    **{f"16-features-{m}": (16, "pinn", 20000, dict(n_features=m)) for m in (100, 200, 400, 800)},
    **{f"64-features-{m}": (64, "pinn", 20000, dict(n_features=m)) for m in (50, 100, 200, 400)},
    "64-features-800": (64, "pinn", 20000, dict(n_features=800)),
    "64-base-pinn": (64, "pinn", 20000, {}),
    "48-trainable-b": (48, "pinn", 20000, dict(trainable_b=True)),
    "48-angular-2pi-3360": (
        48,
        "pinn",
        20000,
        dict(scales=(1.0, 2 * np.pi * 48), n_collocation=3360),
    ),
}
REPORT_AT = (10000, 20000, 30000)

# The floor cases: key -> (1/eps, tau_2 (None: Table 1's), overrides of the reading).
READINGS = {
    f"{mesh}-{coupling}": dict(coarse_mesh=mesh, coupling=coupling)
    for mesh in ("nodes", "cells")
    for coupling in ("11", "16")
}
# The other readings of Q̄_delta, of R_delta's norm and of J's weights, one at a time from
# nodes-11 (``TrainingConfig``: compression, coupling_norm, pinn_quadrature).
MORE_READINGS = {
    "centred": dict(compression="centred"),
    "exact": dict(compression="exact"),
    "nodal-norm": dict(coupling_norm="nodal"),
    "j-sum": dict(pinn_quadrature="sum"),
}
ALL_READINGS = READINGS | MORE_READINGS
TAU2_SWEEP = {
    16: (0.0, 1.0, 10.0, 20.0, 1e2, 1e4, 1e6),
    48: (0.0, 1e2, 1e4, 1e6),
    64: (0.0, 1.2e4, 1e6),
}
# The V-PINN Hybrid of Table 2 (eps = 1/16): Fig. 2's two coupling weights.
VPINN_TAU2 = (5e5, 5e2)
FLOOR_CASES = {
    **{
        f"{inv}-table1-{name}": (inv, None, reading)
        for inv in (16, 48, 64)
        for name, reading in ALL_READINGS.items()
    },
    **{f"{inv}-tau2-{tau:g}": (inv, tau, {}) for inv, taus in TAU2_SWEEP.items() for tau in taus},
    # tau_2 = 0 gives u itself: its gap ||Q̄u - y_h|| / ||y_h|| under each reading
    **{
        f"{inv}-gap-{name}": (inv, 0.0, reading)
        for inv in (16, 48, 64)
        for name, reading in ALL_READINGS.items()
        if name not in ("nodes-11", "j-sum")  # nodes-11: the tau2-0 cases; J's weights: no gap
    },
    **{
        f"vpinn-{name}-tau2-{tau:g}": (16, tau, reading)
        for name, reading in ALL_READINGS.items()
        for tau in VPINN_TAU2
    },
    # One factor, not a reading: Fig. 2's second tau_2 as J with weights 1 makes it (5e2 / M)
    "vpinn-switch-1.79": (16, 1.79, {}),
}


def cell_runs(args) -> dict:
    """Cell -> (1/eps, method, iterations, overrides, TrainingConfig) of the chosen factor
    cells; every configuration checked, and a checkpoint folder that holds another run refused
    (a ValueError), before the first cell trains or writes anything."""
    runs = {}
    for key in args.cells:
        inv, method, iterations, overrides = FACTORS[key]
        if args.iterations is not None:
            iterations = args.iterations
        config = run_config(inv, method, "fourier", args.seeds, iterations, overrides)
        check_run(config)
        runs[key] = (inv, method, iterations, overrides, config)
    return runs


def floor_configs(args) -> dict:
    """Case -> (1/eps, tau_2, its configuration) of the chosen floor cases, all checked."""
    return {
        key: (inv, tau2, paper_config(inv, "hybrid", **overrides))
        for key in args.cells or FLOOR_CASES
        for inv, tau2, overrides in [FLOOR_CASES[key]]
    }


RESUME = "the JSON table this script writes (its rows are kept); move it away to start anew"


def factors(args) -> None:
    """Train the chosen cells (resuming each) and write the one-factor table."""
    if args.list:
        for key, (inv, method, its, overrides) in FACTORS.items():
            print(f"{key:24s} eps=1/{inv} {method:6s} {its:6d} its  {overrides or 'base'}")
        return
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "one_factor.json")
    table = read_json(path, "one-factor table", RESUME, absent={})
    for key, (inv, method, iterations, overrides, _) in cell_runs(args).items():
        trainer = train_run(inv, method, "fourier", args.seeds, iterations, overrides)
        summary = summarize(trainer, PAPER_TABLE_2[(inv, method, "fourier")][1])
        table[key] = dict(
            eps=f"1/{inv}",
            method=method,
            overrides=overrides,
            seeds=list(args.seeds),
            iterations=trainer.iteration,
            at={
                str(it): error_at(trainer.history, it).tolist()
                for it in REPORT_AT
                if it <= trainer.iteration
            },
            final=summary.final.tolist(),
            minimum=summary.minimum.tolist(),
            reached=summary.reached,
            k_tilde=summary.k_tilde.tolist(),
            wall_time=summary.wall_time,
            fallback_steps=summary.fallback_steps,
            pinn_points=summary.pinn_points.tolist(),
            pinn_between=summary.pinn_between.tolist(),
        )
        print(
            f"{key}: final {np.round(summary.final, 4).tolist()} after {trainer.iteration} its, "
            f"{summary.wall_time:.0f} s",
            flush=True,
        )
        with open(path, "w") as f:
            json.dump(table, f, indent=1)
        write_factor_table(table, args.output_dir)  # after every cell: partial results show


def write_factor_table(table: dict, output_dir: str) -> None:
    """one_factor.md from the cells' summaries (one_factor.json)."""
    lines = [
        "| cell | eps | method | change from the base | seeds | "
        + " | ".join(f"@{it}" for it in REPORT_AT)
        + " | final mean +- spread | J on M points / between | wall s | ms per it |",
        "|---" * (9 + len(REPORT_AT)) + "|",
    ]
    for key, row in table.items():
        cells = []
        for it in REPORT_AT:
            values = row["at"].get(str(it))
            cells.append("-" if values is None else " / ".join(f"{v:.3f}" for v in values))
        final = np.asarray(row["final"])
        lines.append(
            f"| {key} | {row['eps']} | {row['method']} | {row['overrides'] or 'base'} | "
            f"{','.join(map(str, row['seeds']))} | "
            + " | ".join(cells)
            + f" | {final.mean():.3f} +- {(final.max() - final.min()) / 2:.3f} | "
            + ", ".join(
                f"{a:.2g} / {b:.2g}"
                for a, b in zip(row.get("pinn_points", []), row.get("pinn_between", []))
            )
            + f" | {row['wall_time']:.0f} | {1000 * row['wall_time'] / row['iterations']:.0f} |"
        )
    with open(os.path.join(output_dir, "one_factor.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def pinn_loss_at(trainer: Trainer, x: torch.Tensor) -> torch.Tensor:
    """J of the trainer's network on the points x (differentiable in theta), one value per seed."""
    jet = trainer.network.jet(x)
    return pinn_loss(pinn_residual(jet[:, 1], jet[:, 2], x, trainer.config.eps))


def error_parts(trainer: Trainer) -> tuple[float, float, float]:
    """Relative L^2 error of the smooth part (moving average over one period) and of the rest,
    and the coefficient alpha of the network's smooth part along u's (1: right, -1: mirrored)."""
    u = trainer.reference.values
    v = trainer.prediction()[0]
    width = max(1, round(trainer.config.eps * (len(u) - 1)))
    average = lambda f: np.convolve(f, np.ones(width) / width, mode="same")  # noqa: E731
    smooth = average(v - u)
    norm = np.linalg.norm(u)
    u_smooth = average(u)
    alpha = float(average(v) @ u_smooth / (u_smooth @ u_smooth))
    return np.linalg.norm(smooth) / norm, np.linalg.norm(v - u - smooth) / norm, alpha


def report(label: str, trainer: Trainer, points: torch.Tensor, between: torch.Tensor) -> None:
    smooth, rest, alpha = error_parts(trainer)
    print(
        f"{label}  J at the {len(points)} points {pinn_loss_at(trainer, points).item():.3e}  "
        f"J at 4800 points {pinn_loss_at(trainer, between).item():.3e}  "
        f"rel. L2 {trainer.relative_error()[0]:.4f} "
        f"(smooth part {smooth:.4f}, rest {rest:.4f}; smooth part of v = {alpha:+.3f} x u's)",
        flush=True,
    )


def probes(args) -> None:
    """The pinn, fit and lbfgs probes of one seed (float64)."""
    overrides = dict(n_collocation=args.collocation) if args.collocation else {}
    if args.warmup:
        overrides["warmup"] = args.warmup
    if args.boundary_factor:
        overrides["boundary_factor"] = args.boundary_factor
    trainer = Trainer(
        paper_config(args.eps, "pinn", seeds=(args.seed,), dtype="float64", **overrides)
    )
    between = torch.linspace(0.0, 1.0, 4802, dtype=torch.float64)[1:-1]
    if args.mode == "fit":
        target = torch.as_tensor(trainer.reference.values)
        optimizer = torch.optim.Adam(trainer.network.parameters(), lr=1e-3)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, 1000, 0.75)
    for it in range(1, args.iterations + 1):
        if args.mode in ("pinn", "lbfgs"):
            trainer.step()
        else:
            optimizer.zero_grad()
            loss = torch.mean((trainer.network(trainer.x_reference)[0] - target) ** 2)
            loss.backward()
            optimizer.step()
            schedule.step()
        if it % args.report_every == 0:
            report(f"it {it:6d}", trainer, trainer.x, between)
    if args.mode == "lbfgs":
        points = collocation_points(args.lbfgs_collocation, torch.float64)
        optimizer = torch.optim.LBFGS(
            trainer.network.parameters(),
            lr=1.0,
            max_iter=50,
            history_size=50,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimizer.zero_grad()
            loss = pinn_loss_at(trainer, points).sum()
            loss.backward()
            return loss

        for step in range(1, args.lbfgs_steps + 1):
            optimizer.step(closure)
            if step % 5 == 0:
                report(f"L-BFGS {step:4d}", trainer, points, between)


def floor(args) -> None:
    """The objective minimiser of every floor case; floor.{json,md} after each."""
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "floor.json")
    table = read_json(path, "floor table", RESUME, absent={})
    for key, (inv, tau2, config) in floor_configs(args).items():
        start = time.perf_counter()
        found = objective_minimiser(config, tau2=tau2)
        seconds = time.perf_counter() - start
        # The sine series is long enough: 1.5x the modes moves the error by (Table 1 rows):
        check = None
        if key.endswith("table1-nodes-11"):
            finer = objective_minimiser(config, tau2=tau2, n_modes=3 * found.n_modes // 2)
            check = abs(finer.relative_error - found.relative_error)
        table[key] = dict(
            eps=f"1/{inv}",
            tau2=config.tau2 if tau2 is None else tau2,
            coarse_mesh=config.coarse_mesh,
            coupling=config.coupling,
            compression=config.compression,
            coupling_norm=config.coupling_norm,
            pinn_quadrature=config.pinn_quadrature,
            relative_error=found.relative_error,
            pinn_loss=found.pinn_loss,
            coupling_term=found.coupling,
            k_tilde=found.k_tilde,
            gap=found.gap,
            gauss_newton_steps=found.gauss_newton_steps,
            n_modes=found.n_modes,
            n_points=found.n_points,
            change_with_1_5x_modes=check,
            seconds=seconds,
        )
        print(f"{key}: relative error {found.relative_error:.4g} ({seconds:.0f} s)", flush=True)
        table = {k: table[k] for k in FLOOR_CASES if k in table}  # the cases' order
        with open(path, "w") as f:
            json.dump(table, f, indent=1)
        write_floor_table(table, args.output_dir)
    write_floor_figure(table, args.output_dir)


def write_floor_table(table: dict, output_dir: str) -> None:
    """floor.md from floor.json's cases, and floor_readings.md, the floors and gaps per reading."""
    lines = [
        "| case | eps | tau_2 | coarse mesh | coupling | compression | norm | J weights | "
        "rel. L2 error of the minimiser | J | R_delta | K~ | gap Qbar v - y_h | "
        "Gauss-Newton steps | sine modes / points | change with 1.5x modes | s |",
        "|---" * 17 + "|",
    ]
    for key, row in table.items():
        check = row["change_with_1_5x_modes"]
        lines.append(
            f"| {key} | {row['eps']} | {row['tau2']:g} | {row['coarse_mesh']} | "
            f"{row['coupling']} | {row['compression']} | {row['coupling_norm']} | "
            f"{row['pinn_quadrature']} | {row['relative_error']:.4g} | {row['pinn_loss']:.3g} | "
            f"{row['coupling_term']:.3g} | {row['k_tilde']:.6f} | {row['gap']:.4g} | "
            f"{row['gauss_newton_steps']} | {row['n_modes']} / {row['n_points']} | "
            f"{'-' if check is None else f'{check:.1e}'} | {row['seconds']:.0f} |"
        )
    with open(os.path.join(output_dir, "floor.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(output_dir, "floor_readings.md"), "w") as f:
        f.write(floor_readings_table(table))


# Where the text leaves room for each reading (our words; section or equation of the paper).
READING_SOURCES = {
    "nodes-11": "Table 2's reading: N_h nodes (Sec. 4.4, dim Y_h = N_h), coupling (11) "
    "(Sec. 4.4 names it), moving average (59)-(60), L2 norm (adjoint rhs with M_h), J with 1/M",
    "nodes-16": "(16); Sec. 3.1's discrete objective compares Qbar v with Qbar y_h",
    "cells-11": "Sec. 4.5: h = 1/N_h",
    "cells-16": "h = 1/N_h and (16)",
    "centred": "(59): the window is 'centered around x_i', so kept centred near the ends",
    "exact": "(10) itself, of which (59) is called an approximation",
    "nodal-norm": "Sec. 3.1: ‖.‖_{H_h} a weighted sum over the FE nodes (trapezoidal weights)",
    "j-sum": "Sec. 3.1 leaves J's weights w_i^r open: weight 1, J times M (tau_2 / M under 1/M)",
}


def floor_readings_table(table: dict) -> str:
    """The floors of the V-PINN Hybrid (tau_2 = 5e5 and 5e2 at eps = 1/16), the gap of u and the
    Hybrid's floor at Table 1's tau_2 per eps, one reading of the text per row."""

    def cell(key: str, field: str = "relative_error") -> str:
        return f"{table[key][field]:.4g}" if key in table else ""

    def gap_key(inv: int, name: str) -> str:
        # J's weights do not enter the gap; nodes-11's gap is the tau_2 = 0 case of the sweep
        return f"{inv}-tau2-0" if name in ("nodes-11", "j-sum") else f"{inv}-gap-{name}"

    lines = [
        "| reading | where the text allows it | V-PINN floor, tau_2 = 5e5 | its gap | "
        "floor, tau_2 = 5e2 | its gap | gap of u, 1/16 | 1/48 | 1/64 | "
        "Hybrid floor at Table 1's tau_2, 1/16 | 1/48 | 1/64 |",
        "|---" * 12 + "|",
    ]
    for name in ALL_READINGS:
        vpinn = [f"vpinn-{name}-tau2-{tau:g}" for tau in VPINN_TAU2]
        row = [name, READING_SOURCES[name]]
        for key in vpinn:
            row += [cell(key), cell(key, "gap")]
        row += [cell(gap_key(inv, name), "gap") for inv in (16, 48, 64)]
        row += [cell(f"{inv}-table1-{name}") for inv in (16, 48, 64)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def write_floor_figure(table: dict, output_dir: str) -> None:
    """floor.png: the minimiser's error against tau_2 per eps (nodes, (11)), the compression gap
    of u it tends to, and the paper's Hybrid at Table 1's tau_2."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: floor.png skipped", flush=True)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for inv, color in zip((16, 48, 64), ("C0", "C1", "C2")):
        base = ("nodes", "11", "nodes", "mass", "mean")
        fields = ("coarse_mesh", "coupling", "compression", "coupling_norm", "pinn_quadrature")
        rows = [
            r
            for r in table.values()
            if r["eps"] == f"1/{inv}" and tuple(r[f] for f in fields) == base
        ]
        points = sorted({(r["tau2"], r["relative_error"]) for r in rows if r["tau2"] > 0})
        if not points:
            continue
        tau, error = zip(*points)
        ax.loglog(tau, error, "o-", color=color, label=f"eps = 1/{inv}: minimiser")
        gap = [r["gap"] for r in rows if r["tau2"] == 0]
        if gap:
            ax.axhline(gap[0], color=color, ls=":", lw=1)
        tau1 = paper_config(inv).tau2
        paper = PAPER_TABLE_2[(inv, "hybrid", "fourier")][1]
        ax.plot([tau1], [paper], "*", color=color, ms=12, label=f"eps = 1/{inv}: paper's Hybrid")
    vpinn = PAPER_TABLE_2[(16, "hybrid", "mlp")][1]
    ax.plot(VPINN_TAU2, [vpinn] * 2, "x", color="C0", ms=9, label="eps = 1/16: paper's V-PINN")
    ax.set_xlabel("tau_2")
    ax.set_ylabel("relative L2 error")
    ax.set_title("Error of the objective's exact minimiser (dotted: gap of u)")
    if ax.get_legend_handles_labels()[0]:  # nothing to label before a case with tau_2 > 0
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "floor.png"), dpi=110)
    plt.close(fig)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv=None) -> int:
    """The diagnostics; errors go to ``plumbing.cli.run`` (one line, exit status 2)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("factors", "pinn", "fit", "lbfgs", "floor"))
    parser.add_argument(
        "--cells",
        nargs="+",
        default=[],
        help="factors: the cells to run (--list shows them); floor: the cases (default: all)",
    )
    parser.add_argument("--list", action="store_true", help="factors: list the cells and exit")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1], help="factors: seeds of every cell"
    )
    parser.add_argument(
        "--output-dir",
        default="results/hybrid",
        help="factors, floor: where one_factor.{json,md} or floor.{json,md} go",
    )
    parser.add_argument(
        "--eps", type=int, default=16, choices=(16, 48, 64), help="probes: 1/eps of Table 1"
    )
    parser.add_argument(
        "--iterations",
        type=positive,
        help="probes: Adam steps (default 3000); factors: override every cell's count",
    )
    parser.add_argument("--collocation", type=positive, help="probes: override Table 1's M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=positive, help="probes: iterations of lr warm-up")
    parser.add_argument(
        "--boundary-factor", choices=("quadratic", "flat"), help="probes: l of v = l vbar"
    )
    parser.add_argument(
        "--report-every", type=positive, default=500, help="probes: iterations between reports"
    )
    parser.add_argument(
        "--lbfgs-collocation", type=positive, default=2000, help="points of the L-BFGS phase"
    )
    parser.add_argument(
        "--lbfgs-steps", type=positive, default=150, help="L-BFGS steps of 50 inner iterations"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")  # cli.run
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    held = contextlib.ExitStack()
    if args.mode == "floor":
        unknown = [c for c in args.cells if c not in FLOOR_CASES]
        if unknown:
            raise ValueError(
                f"unknown floor case(s) {', '.join(unknown)}; the cases: {', '.join(FLOOR_CASES)}"
            )
        floor_configs(args)  # every case's settings, before any output
        check_writable(args.output_dir, "output folder", folder=True)
    if args.mode == "factors" and not args.list:
        unknown = [c for c in args.cells if c not in FACTORS]
        if unknown:
            raise ValueError(f"unknown cell(s) {', '.join(unknown)}; --list shows the cells")
        # Every cell's settings and checkpoint folder, then every folder held to the end, before
        # the first cell writes anything (train_run holds each again, nested).
        for *_, config in cell_runs(args).values():
            held.enter_context(exclusive_folder(config.checkpoint_dir))
        check_writable(args.output_dir, "output folder", folder=True)
    with held:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        # One torch and one OpenBLAS thread: the floor's QR and least squares go to OpenBLAS,
        # whose second thread, next to a long run on the other core, made them 20-70x slower.
        limit_threads(1)
        if args.mode == "factors":
            factors(args)
        elif args.mode == "floor":
            floor(args)
        else:
            args.iterations = args.iterations or 3000  # None: the default; 0 is refused
            probes(args)
    return 0


if __name__ == "__main__":
    sys.exit(run("hybrid_pinn_1d_diagnostics", main, serial=True))
