"""Experiments 1-3 of paper 000 (Kröpfl, Maier, Peterseim 2022, Secs. 4.4-4.6): NN-LOD vs PG-LOD.

D = (0,1)^2, N_H = 32 coarse elements per side (h = 2^-5 in the paper's notation), fine scale
2^-8 (n = 8), ℓ = 2. A network Ψ trained on the multiscale family 𝔄 (Sec. 4.1-4.3) gives the
surrogate Ŝ_A of eq. (4.2); it is compared with the PG-LOD matrix S_A (3.10) for three
coefficients not seen in training:

1. a fresh sample of 𝔄_ms, f ≡ 1 (Fig. 4.2);
2. A = 2 + sin(2πx1) sin(2πx2) at the fine midpoints, f = x1 χ{x1 ≥ 0.5} (Fig. 4.3);
3. background U[1,2] with "cracks" U[4,5], f = cos(2πx1) (Fig. 4.4).

For each: ‖S_A − Ŝ_A‖_2, ‖u_h − û_h‖_{L²(D)}, a figure with the coefficient, |u_h − û_h| and the
cross-sections x1 = 0.5 and x2 = 0.5, and a table (JSON + Markdown) next to the paper's values.

``--preset reduced`` uses the dataset preset paper000-reduced (20 samples per family, same
discretization) and the short schedule reduced000 of demos/train.py (batch 500, 12 epochs);
``--preset paper`` the full paper000 data (10 x 500 samples; for a GPU or a cluster). Missing
data or checkpoints are produced first (generation on all MPI ranks, training on rank 0)::

    mpirun -n 2 python3 demos/paper000_experiments.py --preset reduced
"""

import json
import pathlib
import sys

import numpy as np
from mpi4py import MPI

from plumbing.cli import CollectiveError, check_writable, collective, run
from plumbing.readers import refusal
from nn_compress.pipeline import (
    add_experiment_arguments,
    check_dataset_file,
    check_experiment_arguments,
    dataset_path,
    ensure_network,
    experiment_network,
    experiment_parser,
    network_name,
    read_test_loss,
)
from nn_compress.training import read_card

PAPER = {  # paper 000, Secs. 4.3-4.6
    "test_loss": 7.78e-5,
    "exp1": {"spectral": 6.58e-2, "l2": 2.13e-4},
    "exp2": {"spectral": 3.91e-2, "l2": 7.56e-5},
    "exp3": {"spectral": 2.81e-1, "l2": 2.72e-4},
}
EXPERIMENTS = {
    "exp1": ("Ams", lambda x, y: np.ones_like(x), "f = 1"),
    "exp2": ("smooth", lambda x, y: np.where(x >= 0.5, x, 0.0), "f = x1 χ{x1 ≥ 0.5}"),
    "exp3": ("cracks", lambda x, y: np.cos(2 * np.pi * x), "f = cos(2π x1)"),
}
FRESH_INDEX = 1_000_000  # sample index far beyond every dataset: never seen in training


def network_losses(path: pathlib.Path) -> dict:
    """Losses stored with a network: test_loss.json beside a checkpoint, or an export's card (a
    ValueError naming the file when it cannot be read)."""
    if path.is_dir():
        card = read_card(path)
        losses = card.get("losses", {})
        if not isinstance(losses, dict):
            card_path = path / "network.json"
            raise refusal(card_path, "card of an exported network", "losses: not an object")
        return losses
    losses = read_test_loss(path.parent) or {}
    by_file = losses.get("test_loss_by_file", {})
    if not isinstance(by_file, dict):
        raise refusal(
            path.parent / "test_loss.json", "test-loss summary", "test_loss_by_file: not an object"
        )
    if path.name in by_file:  # the test loss of exactly this file
        losses = {**losses, "test_loss": by_file[path.name]}
    elif by_file or path.name != "last.pt":
        losses = {
            k: v for k, v in losses.items() if k not in ("test_loss", "train_loss", "val_loss")
        }
    return losses


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument(
        "--checkpoint",
        help="network file or exported folder (default: $NH_STATE/checkpoints/<dataset>/last.pt, "
        "trained if missing)",
    )
    add_experiment_arguments(p, "000")
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    check_experiment_arguments(args)

    from plumbing.threads import limit_threads

    limit_threads(args.threads)  # before any training or evaluation: one count for the run
    from nn_compress.dataset import presets
    from nn_compress.fields import sample
    from nn_compress.figures import plot_comparison, plot_distributions
    from nn_compress.statistics import (
        QUANTITIES,
        error_distribution,
        statistics_record,
        statistics_table,
    )
    from nn_compress.surrogate import NNLODSurrogate, compare
    from nn_compress.training import load_model, plot_history

    if args.checkpoint:  # the network and its discretization fit the experiments, before output
        ckpt_path = pathlib.Path(args.checkpoint)
        try:
            model, ckpt = experiment_network(ckpt_path, dim=2)
            losses = network_losses(ckpt_path)
        except ValueError as e:  # every rank reads the same file: the error is collective
            raise CollectiveError(f"--checkpoint: {e}") from None
    else:  # a dataset file of another configuration: refused here, not after the output folder
        dataset = "paper000" if args.preset == "paper" else "paper000-reduced"
        try:
            check_dataset_file(dataset_path(dataset), presets()[dataset])
        except ValueError as e:
            raise CollectiveError(str(e)) from None
    # The output folder before any data is generated or a network trained.
    structured = model.structured if args.checkpoint else args.structured
    projected = args.project_output and not structured
    name = network_name(f"paper000-{args.preset}", structured) + ("-projected" if projected else "")
    with collective(comm):
        out = check_writable(args.out or f"results/{name}", "output folder", folder=True)
    if not args.checkpoint:
        paper = args.preset == "paper"
        ckpt_path, losses = ensure_network(
            comm,
            "paper000" if paper else "paper000-reduced",
            "paper000" if paper else "reduced000",
            structured=args.structured,
            batch_size=1000 if paper else 500,
            threads=args.threads,
        )
        with collective(comm):
            model, ckpt = load_model(ckpt_path)
    g = ckpt["generation_config"]
    n_coarse, n_sub, ell = g["n_coarse"], g["n_sub"], g["ell"]
    surrogate = NNLODSurrogate(model, n_coarse, n_sub, ell, project=projected)

    if comm.rank == 0:  # the loss curves (Fig. 4.1) next to the results
        plot_history(ckpt["history"], out / "loss.png")
        (out / "history.json").write_text(json.dumps(ckpt["history"], indent=1))
    table = {
        "preset": args.preset,
        "checkpoint": str(ckpt_path),
        "discretization": g,
        "structured": model.structured,
        "projected_after_training": projected,
        "test_loss": losses.get("test_loss"),
        "train_loss": losses.get("train_loss"),
        "val_loss": losses.get("val_loss"),
        "paper": PAPER,
        "experiments": {},
    }
    for name, (family, rhs, rhs_text) in EXPERIMENTS.items():
        smp = sample(family, FRESH_INDEX, g["base_seed"], n_coarse * n_sub)
        res = compare(comm, surrogate, smp.coefficient, smp.network_input, rhs=rhs)
        rel = res.l2_error / res.l2_norm_pglod
        table["experiments"][name] = {
            "coefficient": family,
            "rhs": rhs_text,
            "spectral": res.spectral_error,
            "l2": res.l2_error,
            "l2_relative": rel,
            "timings_s": res.timings,
        }
        if comm.rank == 0:
            plot_comparison(
                out / f"{name}.png",
                smp.coefficient,
                res.u_pglod,
                res.u_nnlod,
                f"paper 000 {name}: {family}, {rhs_text}; ‖S−Ŝ‖₂ = {res.spectral_error:.2e}, "
                f"L² error = {res.l2_error:.2e}",
            )
            print(
                f"{name} ({family}, {rhs_text}): ‖S_A − Ŝ_A‖_2 = {res.spectral_error:.3e} "
                f"(paper {PAPER[name]['spectral']:.2e}), ‖u_h − û_h‖_L2 = {res.l2_error:.3e} "
                f"(paper {PAPER[name]['l2']:.2e}), relative {rel:.2e}",
                flush=True,
            )
    # Distributions over held-out samples of the random families (Exp. 2's coefficient is fixed).
    table["statistics"] = {}
    for name, (family, rhs, rhs_text) in EXPERIMENTS.items():
        if args.statistics == 0 or family == "smooth":
            continue
        values = error_distribution(comm, surrogate, family, args.statistics, g["base_seed"], rhs)
        table["statistics"][name] = statistics_record(values, family=family, rhs=rhs_text)
        if comm.rank == 0:
            plot_distributions(
                out / f"{name}-distribution.png",
                {"NN-LOD": values},
                f"paper 000 {name}: {args.statistics} held-out samples of {family}",
            )
    if comm.rank == 0:
        (out / "table.json").write_text(json.dumps(table, indent=1))
        fmt = lambda v: "—" if v is None else f"{v:.3e}"  # noqa: E731
        preset = "checkpoint given" if args.checkpoint else f"preset {args.preset}"
        lines = [
            f"# Paper 000, Experiments 1-3 ({preset})",
            "",
            f"Network: `{ckpt_path}`; N_H = {n_coarse}, n = {n_sub}, ℓ = {ell}."
            + (
                " Its local matrices are projected onto zero row and column sums wherever the "
                "labels have them (`project_onto_structure`), without retraining."
                if projected
                else ""
            ),
            "",
            *(
                []
                if (n_coarse, n_sub, ell) == (32, 8, 2)
                else [
                    "**Not the paper's discretization** (N_H = 32, n = 8, ℓ = 2): the paper column "
                    "is for orientation only.",
                    "",
                ]
            ),
            "| quantity | ours | paper |",
            "|---|---|---|",
            f"| test loss (2.9) | {fmt(table['test_loss'])} | {PAPER['test_loss']:.2e} |",
        ]
        for name, row in table["experiments"].items():
            lines += [
                f"| {name} ‖S_A − Ŝ_A‖₂ ({row['coefficient']}) | {fmt(row['spectral'])} | "
                f"{PAPER[name]['spectral']:.2e} |",
                f"| {name} ‖u_h − û_h‖_L² ({row['rhs']}) | {fmt(row['l2'])} | "
                f"{PAPER[name]['l2']:.2e} |",
            ]
        if table["statistics"]:
            rows = {
                f"{n} ({st['family']}, {st['rhs']})": st for n, st in table["statistics"].items()
            }
            lines += ["", *statistics_table(rows, QUANTITIES)]
        # The network's file name as its bytes, also where they are not UTF-8.
        text = "\n".join(lines) + "\n"
        (out / "table.md").write_text(text, encoding="utf-8", errors="surrogateescape")
        print(f"results in {out}/ (table.json, table.md, exp1-3.png)")
    return 0


if __name__ == "__main__":
    sys.exit(run("paper000_experiments", main, comm=MPI.COMM_WORLD))
