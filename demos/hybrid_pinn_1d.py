"""Hybrid physics-informed multiscale solver in 1-D: Tables 1 and 2 of the hybrid paper (Sec. 4.4-4.5).

Problem (57): -(K_eps u')' = q + K_eps' on (0, 1), u(0) = u(1) = 0, K_eps = 1/(1.2 + sin(2 pi x/eps)),
q = -3(2x - 1). The fine-scale network v_theta (multiscale Fourier features, or a plain MLP) is
trained by Alg. 1, either alone (Ms-PINN: the PINN loss J) or coupled to the coarse P1 problem
K~[v_theta] A_h y_h = F_h through R_delta = tau_2 ||Qbar v - Qbar y_h||^2 (Hybrid), the gradient of
y_h coming from the PETSc adjoint (eqs. 25-29). The configurations are those of Table 1.

    ./run python3 demos/hybrid_pinn_1d.py --preset quick            # minutes: eps = 1/16, 1500 its, 3 seeds
    nice -n 10 ./run python3 demos/hybrid_pinn_1d.py --preset paper # Table 2 iteration counts (hours)
    ./run python3 demos/hybrid_pinn_1d.py --preset paper --eps 16 --iterations 8000 --resume

Writes results/hybrid/hybrid_pinn_1d_<preset>.{json,md} and figures like Figs. 2-4 (PNG);
checkpoints go to checkpoints/hybrid/<run>/ and --resume continues from the latest one.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import time

import numpy as np
import torch

from hybrid_pinn.coarse import CoarseProblem
from hybrid_pinn.losses import moving_average_matrix
from hybrid_pinn.problem import coefficient, exact_k_tilde
from hybrid_pinn.reference import fine_reference
from hybrid_pinn.training import Trainer, paper_config

# Table 2 of the paper: (eps^-1, method, architecture) -> (iterations, relative L^2 error).
PAPER_TABLE_2 = {
    (16, "pinn", "fourier"): (30000, 0.034),
    (16, "hybrid", "fourier"): (30000, 0.036),
    (16, "hybrid", "mlp"): (15000, 0.062),
    (48, "pinn", "fourier"): (73000, 0.101),
    (48, "hybrid", "fourier"): (53000, 0.105),
    (64, "pinn", "fourier"): (120000, 0.124),
    (64, "hybrid", "fourier"): (83500, 0.101),
}
PAPER_TABLE_1_K = {16: 0.834, 48: 0.842, 64: 0.848}
LABEL = {("pinn", "fourier"): "Ms-PINN", ("hybrid", "fourier"): "Hybrid (Ms-PINN)", ("hybrid", "mlp"): "Hybrid (V-PINN)"}
PRESETS = {
    "quick": dict(eps=[16], seeds=[0, 1, 2], iterations=1500, log_every=100, methods=["pinn", "hybrid"]),
    "paper": dict(eps=[16, 48, 64], seeds=[0, 1, 2], iterations=None, log_every=250,
                  methods=["pinn", "hybrid", "hybrid-mlp"]),
}


def table_1(output: dict) -> list[str]:
    """K~[u_h] of the FE reference on 1000 nodes and on a converged mesh, beside 5/6 and the paper."""
    lines = ["| eps | P1, 1000 nodes, exact integral | same u_h, nodal rule | P1, 64000 nodes | exact 5/6 | paper |",
             "|---|---|---|---|---|---|"]
    output["table_1"] = {}
    for inv in (16, 48, 64):
        coarse, fine = fine_reference(1 / inv, 1000), fine_reference(1 / inv, 64000)
        # The same u_h, but K sampled at the 1000 nodes and u_h' by central differences with
        # weights 1/1000: a rectangle rule whose O(h/eps) error reproduces the paper's trend.
        nodal = float(np.mean(coefficient(coarse.nodes, 1 / inv) * (np.gradient(coarse.values, coarse.nodes) + 1)))
        row = dict(p1_1000=coarse.k_tilde, p1_1000_nodal_rule=nodal, p1_64000=fine.k_tilde,
                   exact=exact_k_tilde(1 / inv), paper=PAPER_TABLE_1_K[inv])
        output["table_1"][f"1/{inv}"] = row
        lines.append(f"| 1/{inv} | {row['p1_1000']:.4f} | {nodal:.4f} | {row['p1_64000']:.5f} | {row['exact']:.5f} | "
                     f"{row['paper']:.3f} |")
    return lines


def run_one(preset_name: str, inv: int, method: str, architecture: str, seed: int, iterations: int, log_every: int,
            resume: bool, tau2: float | None = None, shift: bool = False, collocation: int | None = None):
    """Train one configuration of Table 1 (resuming from its latest checkpoint if asked)."""
    overrides = {} if tau2 is None or method == "pinn" else dict(tau2=tau2, tau2_switch=None)
    suffix = (f"_tau{tau2:g}" if overrides else "") + ("_shift" if shift else "") + (f"_M{collocation}" if collocation else "")
    overrides["shift_collocation"] = shift
    if collocation:
        overrides["n_collocation"] = collocation
    directory = os.path.join("checkpoints", "hybrid", preset_name, f"eps{inv}_{method}_{architecture}_seed{seed}{suffix}")
    checkpoints = sorted(glob.glob(os.path.join(directory, "it_*.pt")))
    if resume and checkpoints:
        trainer = Trainer.from_checkpoint(checkpoints[-1], iterations=iterations)
        logging.info("resumed %s at iteration %d", directory, trainer.iteration)
    else:
        config = paper_config(inv, method, architecture, seed=seed, iterations=iterations, log_every=log_every,
                              checkpoint_every=max(1000, log_every), checkpoint_dir=directory, **overrides)
        trainer = Trainer(config)
    start, first = time.perf_counter(), trainer.iteration
    trainer.train()
    trainer.save_checkpoint()
    rate = (trainer.iteration - first) / max(time.perf_counter() - start, 1e-9)
    return trainer, rate


def figure(trainer: Trainer, runs: list[Trainer], path: str, title: str) -> None:
    """Figs. 2-4: solution vs FEM; compressed control, predicted and true state; losses, error; K~."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = trainer.config
    ref = trainer.reference
    fig, ax = plt.subplots(1, 4, figsize=(20, 4.2))
    ax[0].plot(ref.nodes, ref.values, "k-", lw=1, label="FEM $u_h$ (1000 nodes)")
    ax[0].plot(ref.nodes, trainer.prediction(), "r--", lw=1, label=r"network $v_\theta$")
    ax[0].set_title(f"{title}: solution")
    ax[0].legend()
    coarse = CoarseProblem(c.n_coarse)
    average = moving_average_matrix(coarse.nodes, c.window, c.eps)
    k_now = trainer.history[-1]["k_tilde"]
    control = average @ trainer.prediction(trainer.x_coarse)
    ax[1].plot(coarse.nodes, control, "r.-", label=r"$\bar Q_\delta v_\theta$")
    if k_now > 0:
        ax[1].plot(coarse.nodes, coarse.solve_state(k_now), "b-", label=r"$y_h(v_\theta)$")
    ax[1].plot(coarse.nodes, coarse.solve_state(ref.k_tilde), "k--", label=r"true $y_h$ ($\tilde K[u_h]$)")
    ax[1].set_title("compressed control vs state")
    ax[1].legend()
    for run in runs:
        h = run.history
        it = [e["iteration"] for e in h]
        ax[2].semilogy(it, [e["pinn"] for e in h], "C0", alpha=0.6)
        if run.config.method == "hybrid":
            ax[2].semilogy(it, [e["coupling"] for e in h], "C1", alpha=0.6)
        ax[2].semilogy(it, [e["rel_l2"] for e in h], "C2", alpha=0.8)
        ax[3].plot(it, [e["k_tilde"] for e in h], "C3", alpha=0.7)
    ax[2].plot([], [], "C0", label=r"$\mathcal{J}$")
    ax[2].plot([], [], "C1", label=r"$\mathcal{R}_\delta$")
    ax[2].plot([], [], "C2", label=r"rel. $L^2$ error")
    ax[2].set_title("losses and error (all seeds)")
    ax[2].set_xlabel("iteration")
    ax[2].legend()
    ax[3].axhline(ref.k_tilde, color="r", ls="--", label=rf"$\tilde K[u_h]$ = {ref.k_tilde:.4f}")
    ax[3].set_title(r"$\tilde K[v_\theta]$ vs iterations")
    ax[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    coarse.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="quick")
    parser.add_argument("--eps", type=int, nargs="+", help="1/eps values from Table 1 (16, 48, 64)")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--iterations", type=int, help="iterations per run (paper preset: Table 2's counts)")
    parser.add_argument("--methods", nargs="+", choices=["pinn", "hybrid", "hybrid-mlp"],
                        help="default: the preset's; hybrid-mlp (V-PINN) only runs at eps = 1/16")
    parser.add_argument("--tau2", type=float, help="override Table 1's tau_2 (sensitivity runs; hybrid only)")
    parser.add_argument("--shift-collocation", action="store_true",
                        help="shift the collocation grid randomly each step (not in the paper; against aliasing)")
    parser.add_argument("--collocation", type=int, help="override Table 1's M (e.g. 2000: no aliasing between points)")
    parser.add_argument("--resume", action="store_true", help="continue each run from its latest checkpoint")
    parser.add_argument("--skip-table-1", action="store_true")
    parser.add_argument("--output-dir", default="results/hybrid")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    preset = PRESETS[args.preset]
    eps_list, seeds = args.eps or preset["eps"], args.seeds or preset["seeds"]
    os.makedirs(args.output_dir, exist_ok=True)
    tag = f"{args.preset}" + (f"_it{args.iterations}" if args.iterations else "") + (f"_tau{args.tau2:g}" if args.tau2 else "") + (
        "_shift" if args.shift_collocation else "") + (f"_M{args.collocation}" if args.collocation else "")
    output = {"preset": args.preset, "iterations_override": args.iterations, "tau2_override": args.tau2,
              "threads": 1, "device": "CPU",
              "runs": {}}
    lines = [f"# Hybrid PINN, problem (57): preset {args.preset}"
             + (f", tau2 = {args.tau2:g} instead of Table 1's" if args.tau2 else "")
             + (", collocation grid shifted randomly each step" if args.shift_collocation else "")
             + (f", M = {args.collocation} collocation points instead of Table 1's" if args.collocation else ""), ""]
    if not args.skip_table_1:
        lines += ["## Table 1: upscaled coefficient of the FE reference", ""] + table_1(output) + [""]

    lines += ["## Table 2: relative L2 error (mean +- std over seeds)", "",
              "| eps | method | iterations run | rel. L2 final | min over log | it. to paper error | paper its | paper error | it/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for inv in eps_list:
        for method_name in args.methods or preset["methods"]:
            method, architecture = ("hybrid", "mlp") if method_name == "hybrid-mlp" else (method_name, "fourier")
            if architecture == "mlp" and inv != 16:
                continue
            paper_its, paper_error = PAPER_TABLE_2[(inv, method, architecture)]
            iterations = args.iterations or preset["iterations"] or paper_its
            runs, rates, finals, minima, reached = [], [], [], [], []
            for seed in seeds:
                trainer, rate = run_one(args.preset, inv, method, architecture, seed, iterations, preset["log_every"], args.resume,
                                        args.tau2, args.shift_collocation, args.collocation)
                errors = [(e["iteration"], e["rel_l2"]) for e in trainer.history]
                hit = next((it for it, err in errors if err <= paper_error), None)
                runs.append(trainer)
                rates.append(rate)
                finals.append(errors[-1][1])
                minima.append(min(err for _, err in errors))
                reached.append(hit)
                output["runs"][f"1/{inv} {LABEL[(method, architecture)]} seed {seed}"] = dict(
                    iterations=trainer.iteration, final_rel_l2=errors[-1][1], min_rel_l2=minima[-1],
                    iterations_to_paper_error=hit, iterations_per_second=rate,
                    fallback_steps=len(trainer.fallbacks), final_k_tilde=trainer.history[-1]["k_tilde"],
                    history=trainer.history)
                print(f"1/{inv} {LABEL[(method, architecture)]} seed {seed}: {trainer.iteration} its, "
                      f"rel L2 {errors[-1][1]:.4f} (min {minima[-1]:.4f}), K~ {trainer.history[-1]['k_tilde']:.4f}, "
                      f"{rate:.1f} it/s", flush=True)
            hits = [h for h in reached if h is not None]
            reached_text = (f"{np.mean(hits):.0f} ({len(hits)}/{len(seeds)} seeds)" if hits else f"not reached (0/{len(seeds)})")
            lines.append(
                f"| 1/{inv} | {LABEL[(method, architecture)]} | {'/'.join(str(r.iteration) for r in runs)} | {np.mean(finals):.4f} +- {np.std(finals):.4f} | "
                f"{np.mean(minima):.4f} | {reached_text} | {paper_its} | {paper_error:.3f} | {np.mean(rates):.1f} |"
            )
            figure(runs[0], runs, os.path.join(args.output_dir, f"fig_eps{inv}_{method}_{architecture}_{tag}.png"),
                   f"eps=1/{inv} {LABEL[(method, architecture)]}")
    with open(os.path.join(args.output_dir, f"hybrid_pinn_1d_{tag}.json"), "w") as f:
        json.dump(output, f, indent=1, default=float)
    with open(os.path.join(args.output_dir, f"hybrid_pinn_1d_{tag}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
