r"""Hybrid physics-informed multiscale solver in 1-D: Tables 1 and 2 of the hybrid paper
(Sec. 4.4-4.5).

Problem (57): -(K_eps u')' = q + K_eps' on (0, 1), u(0) = u(1) = 0,
K_eps = 1/(1.2 + sin(2 pi x/eps)), q = -3(2x - 1). The fine-scale network v_theta (multiscale
Fourier features, or a plain MLP) is trained by Alg. 1, either alone (Ms-PINN: the PINN loss J)
or coupled to the coarse P1 problem K~[v_theta] A_h y_h = F_h through
R_delta = tau_2 ||Qbar v - y_h||^2, eq. (11) (Hybrid), the gradient of y_h coming from the PETSc
adjoint (eqs. 25-29). The configurations are those of Table 1; the readings the text leaves open
(Fourier convention, schedule, coupling term, coarse mesh) are options whose defaults are
``hybrid_pinn.training.TrainingConfig``'s. All seeds of a run are trained side by side as one
batched network.

    # minutes: eps = 1/16, 1500 its, 3 seeds
    ./run python3 demos/hybrid_pinn_1d.py --preset quick
    # Table 2 iteration counts (hours)
    nice -n 10 ./run python3 demos/hybrid_pinn_1d.py --preset paper
    ./run python3 demos/hybrid_pinn_1d.py --preset paper --eps 48 --methods hybrid \
        --iterations 20000

A killed run continues from its checkpoint when the same command is run again (checkpoints in
$NH_STATE/checkpoints/hybrid/<run>/last.pt, outside the work tree; a different configuration in
that folder is refused, and so is a folder another running command holds: each command holds its
runs' folders until it ends). Every run's settings and folder are checked before any output. Writes
<output-dir>/hybrid_pinn_1d_<preset>_eps.._s.._<methods>[_overrides].{json,md} and one figure per
eps and method like Figs. 2-4; every name carries eps, seeds, methods and overrides, so a run of a
subset never overwrites the full table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import sys

import numpy as np
import torch

from hybrid_pinn.coarse import COARSE_MESHES, COARSE_SOLVERS
from plumbing import cli
from plumbing.checkpoint import exclusive_folder, state_path
from plumbing.cli import check_writable
from lod_fenicsx.corrector_torch import resolve_device
from hybrid_pinn.losses import COMPRESSIONS, COUPLING_NORMS, COUPLINGS, PINN_QUADRATURES
from hybrid_pinn.network import FOURIER_CONVENTIONS
from hybrid_pinn.problem import exact_k_tilde, k_eps
from hybrid_pinn.reference import fine_reference
from hybrid_pinn.runs import (
    LABELS,
    PAPER_TABLE_2,
    check_run,
    compare_runs,
    overrides_tag,
    ran_where,
    run_config,
    run_name,
    summarize,
    train_run,
    write_error_history,
)
from hybrid_pinn.training import SCHEDULES, TABLE_1, Trainer

PAPER_TABLE_1_K = {16: 0.834, 48: 0.842, 64: 0.848}
PRESETS = {
    "quick": dict(
        eps=[16], seeds=[0, 1, 2], iterations=1500, log_every=100, methods=["pinn", "hybrid"]
    ),
    "paper": dict(
        eps=[16, 48, 64],
        seeds=[0, 1, 2],
        iterations=None,
        log_every=250,
        methods=["pinn", "hybrid", "hybrid-mlp"],
    ),
}
METHODS = {
    "pinn": ("pinn", "fourier"),
    "hybrid": ("hybrid", "fourier"),
    "hybrid-mlp": ("hybrid", "mlp"),
    "pinn-mlp": ("pinn", "mlp"),
}


def table_1(output: dict, solver: str) -> list[str]:
    """K~[u_h] of the FE reference on 1000 nodes and on a converged mesh,
    beside 5/6 and the paper."""
    lines = [
        "| eps | P1, 1000 nodes, exact integral | same u_h, nodal rule | P1, 64000 nodes | "
        "exact 5/6 | paper |",
        "|---|---|---|---|---|---|",
    ]
    output["table_1"] = {}
    for inv in (16, 48, 64):
        coarse = fine_reference(1 / inv, 1000, solver=solver)
        fine = fine_reference(1 / inv, 64000, solver=solver)
        # The same u_h, but K sampled at the 1000 nodes and u_h' by central differences with
        # weights 1/1000: a rectangle rule whose O(h/eps) error reproduces the paper's trend.
        nodal = float(
            np.mean(k_eps(coarse.nodes, 1 / inv) * (np.gradient(coarse.values, coarse.nodes) + 1))
        )
        row = dict(
            p1_1000=coarse.k_tilde,
            p1_1000_nodal_rule=nodal,
            p1_64000=fine.k_tilde,
            exact=exact_k_tilde(1 / inv),
            paper=PAPER_TABLE_1_K[inv],
        )
        output["table_1"][f"1/{inv}"] = row
        lines.append(
            f"| 1/{inv} | {row['p1_1000']:.4f} | {nodal:.4f} | {row['p1_64000']:.5f} | "
            f"{row['exact']:.5f} | {row['paper']:.3f} |"
        )
    return lines


def figure(trainer: Trainer, path: str, title: str) -> None:
    """Figs. 2-4: solution vs FEM; compressed control, predicted and true state; J, R, error; K~."""
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: {path} skipped", flush=True)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = trainer.config
    ref = trainer.reference
    seeds = c.seeds
    fig, ax = plt.subplots(1, 4, figsize=(20, 4.2))
    ax[0].plot(ref.nodes, ref.values, "k-", lw=1.5, label="FEM $u_h$ (1000 nodes)")
    for member, seed in enumerate(seeds):
        ax[0].plot(
            ref.nodes, trainer.prediction()[member], "--", lw=1, label=rf"$v_\theta$, seed {seed}"
        )
    ax[0].set_title(f"{title}: solution")
    ax[0].legend(fontsize=7)
    coarse = trainer.coarse
    # Qbar v under the run's compression reading (its points are the nodes for (59))
    control = (
        trainer.prediction(trainer.x_compression)[0] @ trainer.average.double().cpu().numpy().T
    )
    k_now = trainer.history[-1]["k_tilde"][0]
    ax[1].plot(coarse.nodes, control, "r.-", label=rf"$\bar Q_\delta v_\theta$ (seed {seeds[0]})")
    if k_now > 0:
        ax[1].plot(coarse.nodes, coarse.solve_state(k_now), "b-", label=r"$y_h(v_\theta)$")
    ax[1].plot(
        coarse.nodes, coarse.solve_state(ref.k_tilde), "k--", label=r"true $y_h$ ($\tilde K[u_h]$)"
    )
    ax[1].set_title("compressed control vs state")
    ax[1].legend(fontsize=7)
    h = trainer.history
    it = [e["iteration"] for e in h]
    for member in range(len(seeds)):
        ax[2].semilogy(it, [e["pinn"][member] for e in h], "C0", alpha=0.6)
        if c.method == "hybrid":
            ax[2].semilogy(it, [e["coupling"][member] for e in h], "C1", alpha=0.6)
        ax[2].semilogy(it, [e["rel_l2"][member] for e in h], "C2", alpha=0.8)
        ax[3].plot(it, [e["k_tilde"][member] for e in h], "C3", alpha=0.7)
    ax[2].plot([], [], "C0", label=r"$\mathcal{J}$")
    if c.method == "hybrid":
        ax[2].plot([], [], "C1", label=r"$\mathcal{R}_\delta$")
    ax[2].plot([], [], "C2", label=r"rel. $L^2$ error")
    ax[2].set_title(f"losses and error (seeds {', '.join(map(str, seeds))})")
    ax[2].set_xlabel("iteration")
    ax[2].legend()
    ax[3].axhline(ref.k_tilde, color="r", ls="--", label=rf"$\tilde K[u_h]$ = {ref.k_tilde:.4f}")
    ax[3].set_title(r"$\tilde K[v_\theta]$ vs iterations")
    ax[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def eps_inverse(text: str) -> int:
    """--eps: 1/eps of a Table 1 row."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value not in TABLE_1:
        raise argparse.ArgumentTypeError(
            f"{text} is not a Table 1 row; use 1/eps = {', '.join(map(str, TABLE_1))}"
        )
    return value


def count(minimum: int, what: str):
    """An integer >= minimum; 0 is never read as 'the default'."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {value}")
        return value

    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): what is wrong and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=PRESETS, default="quick")
    parser.add_argument(
        "--eps", type=eps_inverse, nargs="+", help="1/eps values of Table 1 (16, 48, 64)"
    )
    parser.add_argument(
        "--seeds", type=count(0, "a seed"), nargs="+", help="seeds, trained side by side"
    )
    parser.add_argument(
        "--iterations",
        type=count(1, "--iterations"),
        help="iterations per run (default: the preset's; paper preset: Table 2's counts)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        help="default: the preset's; hybrid-mlp (Hybrid V-PINN of Fig. 2) and pinn-mlp (the plain "
        "V-PINN the paper could not get to work) only run at eps = 1/16",
    )
    parser.add_argument(
        "--tau2", type=positive_float, help="override Table 1's tau_2 (hybrid only)"
    )
    parser.add_argument(
        "--tau2-switch",
        nargs=2,
        metavar=("ITERATION", "TAU2"),
        type=float,
        help="hybrid: from ITERATION on use TAU2 (the V-PINN's default: 14500 5e2)",
    )
    parser.add_argument(
        "--collocation", type=count(2, "--collocation (M)"), help="override Table 1's M"
    )
    parser.add_argument(
        "--features",
        type=count(1, "--features (m)"),
        help="Fourier features per scale, m (default width // 2; the paper gives none)",
    )
    parser.add_argument(
        "--fourier", choices=sorted(FOURIER_CONVENTIONS), help="Fourier-feature convention"
    )
    parser.add_argument(
        "--schedule", choices=list(SCHEDULES), help="learning-rate schedule reading"
    )
    parser.add_argument("--coupling", choices=COUPLINGS, help="coupling term, eq. (11) or (16)")
    parser.add_argument(
        "--coarse-mesh", choices=sorted(COARSE_MESHES), help="N_h nodes or N_h cells"
    )
    parser.add_argument(
        "--compression", choices=COMPRESSIONS, help="Qbar_delta: (59) on nodes, centred, or (10)"
    )
    parser.add_argument(
        "--coupling-norm", choices=COUPLING_NORMS, help="R_delta's norm: L2 (M_h) or nodal"
    )
    parser.add_argument(
        "--pinn-quadrature", choices=PINN_QUADRATURES, help="J's weights: 1/M (mean) or 1 (sum)"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"))
    parser.add_argument(
        "--shift-collocation",
        action="store_true",
        help="shift the collocation grid randomly each step (not in the paper)",
    )
    parser.add_argument("--skip-table-1", action="store_true")
    parser.add_argument(
        "--solver",
        choices=COARSE_SOLVERS,
        default="petsc",
        help="coarse problem and fine reference: DOLFINx + PETSc (default) or closed-form SciPy "
        "(machines without DOLFINx); the same numbers, and a run may switch on resume",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the network (cuda)")
    parser.add_argument(
        "--checkpoint-root",
        default=str(state_path("checkpoints", "hybrid")),
        help="one folder per run below it (default: $NH_STATE/checkpoints/hybrid)",
    )
    parser.add_argument("--output-dir", default="results/hybrid")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")  # cli.run
    args = parser.parse_args(argv)
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")
    return args


def overrides_of(args, method: str) -> dict:
    """The command line's changes to Table 1 and the default readings, for one method."""
    overrides = {}
    if args.tau2 is not None and method == "hybrid":
        overrides.update(tau2=args.tau2, tau2_switch=None)
    if args.tau2_switch is not None and method == "hybrid":
        overrides["tau2_switch"] = (int(args.tau2_switch[0]), args.tau2_switch[1])
    if args.collocation is not None:
        overrides["n_collocation"] = args.collocation
    if args.features is not None:
        overrides["n_features"] = args.features
    readings = ("fourier", "schedule", "coupling", "coarse_mesh", "compression", "coupling_norm")
    for name in (*readings, "pinn_quadrature", "dtype"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.shift_collocation:
        overrides["shift_collocation"] = True
    return overrides


def names_of(overrides: dict) -> dict:
    """The overrides that name an output file: all but the switch that ``--tau2`` removes."""
    return {k: v for k, v in overrides.items() if not (k == "tau2_switch" and v is None)}


def iterations_of(args, inv: int, method: str, architecture: str) -> int:
    """The iterations of one run: --iterations, else the preset's, else Table 2's."""
    paper_its = PAPER_TABLE_2.get((inv, method, architecture), (15000, None))[0]
    return args.iterations or PRESETS[args.preset]["iterations"] or paper_its


def planned_runs(args) -> list[tuple]:
    """(1/eps, method, architecture, iterations, overrides, TrainingConfig) of every run of the
    command, in order; the configurations are checked (a ValueError names a bad setting)."""
    preset = PRESETS[args.preset]
    seeds = args.seeds or preset["seeds"]
    runs = []
    for inv in args.eps or preset["eps"]:
        for name in args.methods or preset["methods"]:
            method, architecture = METHODS[name]
            if architecture == "mlp" and inv != 16:
                continue
            iterations = iterations_of(args, inv, method, architecture)
            overrides = overrides_of(args, method)
            config = run_config(
                inv,
                method,
                architecture,
                seeds,
                iterations,
                overrides,
                checkpoint_root=args.checkpoint_root,
                log_every=preset["log_every"],
                solver=args.solver,
                device=args.device,
            )
            runs.append((inv, method, architecture, iterations, overrides, config))
    return runs


def run(args) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    preset = PRESETS[args.preset]
    eps_list, seeds = args.eps or preset["eps"], args.seeds or preset["seeds"]
    methods = args.methods or preset["methods"]
    os.makedirs(args.output_dir, exist_ok=True)
    its_of = functools.partial(iterations_of, args)

    counts = []  # the iteration counts of the runs, in order, each once: part of every name
    for inv in eps_list:
        for name in methods:
            method, architecture = METHODS[name]
            if architecture == "fourier" or inv == 16:
                count = its_of(inv, method, architecture)
                counts += [] if count in counts else [count]
    tag = (
        f"{args.preset}_eps{'-'.join(map(str, eps_list))}"
        f"_s{'-'.join(map(str, seeds))}_{'-'.join(methods)}"
        + f"_it{'-'.join(map(str, counts))}"
        + overrides_tag(names_of(overrides_of(args, "hybrid")))
    )
    output = {
        "preset": args.preset,
        "eps": eps_list,
        "seeds": seeds,
        "methods": methods,
        "iterations_override": args.iterations,
        "threads": 1,
        "device": args.device,
        "solver": args.solver,
        "runs": {},
    }
    lines = [f"# Hybrid PINN, problem (57): {tag}", ""]
    if not args.skip_table_1:
        lines += (
            ["## Table 1: upscaled coefficient of the FE reference", ""]
            + table_1(output, args.solver)
            + [""]
        )
    lines += [
        "## Table 2: relative L2 error",
        "",
        "Seeds trained side by side in one process (1 thread; the devices are listed below the "
        "table); wall time is that of the whole run.",
        "",
        "| eps | method | seeds | iterations | rel. L2 final per seed | mean +- spread | "
        "min over log | it. to paper error per seed | it. to 2x paper error | paper its | "
        "paper error | wall s (all seeds) | J on the M points / between them (4800), per seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    where = []
    for inv, method, architecture, iterations, overrides, _ in planned_runs(args):
        paper_its, paper_error = PAPER_TABLE_2.get((inv, method, architecture), (15000, None))
        trainer = train_run(
            inv,
            method,
            architecture,
            seeds,
            iterations,
            overrides,
            checkpoint_root=args.checkpoint_root,
            log_every=preset["log_every"],
            solver=args.solver,
            device=args.device,
        )
        s = summarize(trainer, paper_error)
        twice = summarize(trainer, None if paper_error is None else 2 * paper_error).reached
        label = LABELS[(method, architecture)]
        output["runs"][run_name(inv, method, architecture, seeds, overrides)] = dict(
            eps=f"1/{inv}",
            method=label,
            seeds=list(seeds),
            overrides=overrides,
            iterations=s.iterations,
            final_rel_l2=s.final.tolist(),
            min_rel_l2=s.minimum.tolist(),
            iterations_to_paper_error=s.reached,
            iterations_to_twice_paper_error=twice,
            paper=[paper_its, paper_error],
            wall_time_s=s.wall_time,
            fallback_steps=s.fallback_steps,
            final_k_tilde=s.k_tilde.tolist(),
            pinn_points=s.pinn_points.tolist(),
            pinn_between=s.pinn_between.tolist(),
            history=trainer.history,
            segments=trainer.segments,
        )
        reached, reached_twice = (
            ", ".join("not reached" if r is None else str(r) for r in hits)
            for hits in (s.reached, twice)
        )
        lines.append(
            f"| 1/{inv} | {label} | {','.join(map(str, seeds))} | {s.iterations} | "
            f"{', '.join(f'{e:.4f}' for e in s.final)} | {s.final.mean():.4f} +- "
            f"{(s.final.max() - s.final.min()) / 2:.4f} | {s.minimum.mean():.4f} | "
            f"{reached} | {reached_twice} | {paper_its} | "
            f"{'-' if paper_error is None else f'{paper_error:.3f}'} | {s.wall_time:.0f} | "
            + ", ".join(f"{a:.2g} / {b:.2g}" for a, b in zip(s.pinn_points, s.pinn_between))
            + " |"
        )
        print(lines[-1], flush=True)
        ran = ran_where(trainer.segments, s.iterations, trainer.history)
        where.append(f"- 1/{inv} {label}: {ran}")
        name = f"{run_name(inv, method, architecture, seeds, overrides)}_it{s.iterations}"
        figure(trainer, os.path.join(args.output_dir, f"fig_{name}.png"), f"eps=1/{inv} {label}")
        write_error_history(trainer, os.path.join(args.output_dir, f"history_{name}.csv"))
    lines += ["", "Where the iterations ran (device, coarse solver):", "", *where]
    with open(os.path.join(args.output_dir, f"hybrid_pinn_1d_{tag}.json"), "w") as f:
        json.dump(output, f, indent=1, default=float)
    with open(os.path.join(args.output_dir, f"hybrid_pinn_1d_{tag}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    for inv in eps_list:
        write_comparison(args, inv, seeds, its_of)


def write_comparison(args, inv: int, seeds, iterations_of) -> None:
    """Table 2's claim at one eps (the Hybrid needs fewer iterations than Ms-PINN), computed from
    the two runs' history files in the output folder, once both exist (they may come from two
    separate invocations, e.g. one per core)."""
    paths = {}
    for method in ("pinn", "hybrid"):
        name = run_name(inv, method, "fourier", seeds, overrides_of(args, method))
        its = iterations_of(inv, method, "fourier")
        paths[method] = os.path.join(args.output_dir, f"history_{name}_it{its}.csv")
    if not all(os.path.exists(p) for p in paths.values()):
        return
    result = compare_runs(paths["pinn"], paths["hybrid"])
    result["files"] = {m: os.path.basename(p) for m, p in paths.items()}
    stem = os.path.join(
        args.output_dir,
        f"compare_eps{inv}_s{'-'.join(map(str, seeds))}"
        + overrides_tag(names_of(overrides_of(args, "hybrid"))),
    )
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
    rows = [
        f"# eps = 1/{inv}: Hybrid ({result['hybrid_iterations']} it.) against Ms-PINN "
        f"({result['pinn_iterations']} it.), {result['common_logged_iterations']} common logged "
        "iterations",
        "",
        f"| seed | Ms-PINN final | Hybrid final | mean over the last {result['tail_iterations']} "
        "its., Ms-PINN / Hybrid | Hybrid below Ms-PINN at (of the common its.) | "
        "Hybrid reaches Ms-PINN's final error at | fraction of Ms-PINN's iterations | "
        "Ms-PINN below the Hybrid from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["seeds"]:
        fraction = r["fraction_of_pinn_iterations"]
        rows.append(
            f"| {r['seed']} | {r['pinn_final']:.4f} | {r['hybrid_final']:.4f} | "
            f"{r['pinn_tail_mean']:.4f} / {r['hybrid_tail_mean']:.4f} | "
            f"{r['hybrid_below_at_common_iterations']} of {result['common_logged_iterations']} | "
            f"{r['hybrid_iterations_to_pinn_final'] or 'not reached'} | "
            f"{'-' if fraction is None else f'{fraction:.2f}'} | "
            f"{r['pinn_below_from'] or '-'} |"
        )
    with open(stem + ".md", "w") as f:
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows))


def check_arguments(args) -> list:
    """What a user can get wrong beyond one option's syntax, before Table 1, any training or any
    output: the device, every run's settings, and a checkpoint folder that holds another run
    (found before the first run writes its results, not when the second one starts). Returns
    the configurations of the runs."""
    resolve_device(args.device)
    configs = [run[-1] for run in planned_runs(args)]
    for config in configs:
        check_run(config)
    return configs


def main(argv=None) -> int:
    """The demo; errors go to ``plumbing.cli.run`` (one line, exit status 2)."""
    args = parse_args(argv)
    configs = check_arguments(args)
    check_writable(args.checkpoint_root, "checkpoint folder", folder=True)
    with contextlib.ExitStack() as held:
        # Every run's folder is held from now to the end, before any output: a run of another
        # process on one of them is refused here (train_run holds each again, nested).
        for config in configs:
            held.enter_context(exclusive_folder(config.checkpoint_dir, option="--checkpoint-root"))
        check_writable(args.output_dir, "output folder", folder=True)
        torch.set_num_threads(1)
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("hybrid_pinn_1d", main, serial=True))
