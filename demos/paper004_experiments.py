"""Experiments of paper 004 (Kröpfl, Peterseim, Ullmann 2025): NN-LOD for random coefficients.

Lognormal coefficients A = exp(g), g centred Gaussian with Whittle–Matérn covariance (ν = 1,
λ = 2^-5), variance σ² for low / moderate / high contrast (median contrast ≈ 10, 10², 10³;
``nn_compress.fields.SIGMA2``), on the paper-000 discretization (N_H = 32, n = 8, ℓ = 2).
The network input is g (Remark 5.1).

* Exps. 1-3 (Secs. 5.5-5.7): transfer learning from the paper-000 network on the small and the
  large dataset of each contrast (Table 1), schedule ``paper004`` of demos/train.py (3 stages;
  ``paper004-large`` on the 3200-coefficient sets: about the same number of Adam steps);
  then a fresh realization: ‖S_A − Ŝ_A‖_2, ‖u_h − û_h‖_{L²}, cross-sections (Figs. 3, 5, 7).
* Exps. 1-H-3-H (Secs. 6.1-6.3): hierarchical fields, λ ~ U[2^-5, 2^-3], with their own σ²
  (``SIGMA2_HIERARCHICAL``, the same median contrasts over the λ-mixture); data at 4
  representative λ, transfer learning from the network of Exp. 1-3 of the same contrast; one
  fresh realization solved by FEM, PG-LOD and NN-LOD, and Monte Carlo means of the three
  solutions over M fresh samples (Figs. 8-10), parallel over samples.

The copy of paper 004 we have lost its numbers (errors, sample counts, step sizes, f): our
choices are f ≡ 1, the schedules of demos/train.py, the counts of nn_compress.dataset.presets
and M = 200 (paper) / 16 (reduced) Monte Carlo samples. ``--preset reduced`` uses the
``*-reduced`` datasets (60 samples, same discretization) and the short schedule ``reduced004``;
``--experiments`` picks a subset::

    mpirun -n 2 python3 demos/paper004_experiments.py --preset reduced --experiments 1 1H
"""

import pathlib
import sys
import time

import numpy as np
from mpi4py import MPI

from plumbing.checkpoint import update_json
from plumbing.cli import CollectiveError, check_writable, collective, run
from plumbing.readers import read_json, refusal
from nn_compress.pipeline import (
    NETWORK_FILE,
    add_experiment_arguments,
    base_tag,
    check_dataset_file,
    check_experiment_arguments,
    checkpoint_dir,
    dataset_path,
    ensure_network,
    experiment_parser,
    network_config,
    network_name,
)

CONTRAST = {"1": "low", "2": "moderate", "3": "high"}
FRESH_INDEX = 1_000_000
RHS = lambda x, y: np.ones_like(x)  # noqa: E731  (f ≡ 1)


def read_results_table(path) -> dict:
    """The table.json of an earlier run into the same folder (its rows are kept), {} if none: a
    JSON object of one object per experiment, else a ValueError on one line that names it."""
    what = "results table"
    expected = "the table.json this script writes; move it away to start anew"
    table = read_json(path, what, expected, absent={})
    bad = next((key for key, row in table.items() if not isinstance(row, dict)), None)
    if bad is not None:
        raise refusal(path, what, f"its row {bad!r} is not a JSON object", expected)
    return table


def same_row(
    row: dict | None, losses: dict, statistics: int, mc_samples: int, projected: bool = False
) -> bool:
    """Whether ``row`` (of an earlier run into the same table) is the evaluation this run would
    make: the same network (checkpoint and test loss), projected or not, as many held-out
    coefficients and, for 1-H-3-H, Monte Carlo samples. A run resumed in a later session then
    skips its finished rows (their evaluation takes minutes) instead of computing them again."""
    if not row or row.get("test_loss") != losses.get("test_loss"):
        return False
    if row.get("projected_after_training", False) != projected:
        return False
    if row.get("checkpoint") != losses.get("checkpoint"):
        return False
    if (row.get("statistics", {}).get("summary", {}).get("l2", {}).get("n") or 0) != statistics:
        return False
    mc = row.get("monte_carlo")
    return mc is None or mc.get("samples") == mc_samples


def write_report(
    table: dict,
    out: pathlib.Path,
    preset: str,
    beside: tuple[str, dict] | None = None,
    longer: dict | None = None,
) -> None:
    """``table.md`` (the rows, the error distributions, the paper's statements checked) and one
    loss figure per contrast with its small and large set (Figs. 2, 4, 6), from the rows.

    ``beside``: (folder, table) of the structure-preserving network's runs on the large sets:
    their distributions beside the plain ones, the statements checked again with them in place
    of the plain large-set networks, and one loss figure per contrast with both.

    ``longer``: the history of the small high-contrast run taken on to a higher epoch cap
    (``nn_compress.statements.continued``): Sec. 5.7's stall checked on it too, and its losses
    drawn in ``exp3-small-longer-loss.png``."""
    from nn_compress.statements import check_statements, statements_table, verdicts_beside
    from nn_compress.statistics import monte_carlo_table, statistics_table
    from nn_compress.training import plot_histories

    size = {"small": 0, "large": 1}  # rows exp1-small, exp1-large, ..., exp1H, ...
    table = dict(
        sorted(
            table.items(), key=lambda kv: (kv[0].endswith("H"), kv[0][3], size.get(kv[0][5:], 0))
        )
    )
    lines = [
        f"# Paper 004 experiments (preset {preset})",
        "",
        "Paper values are not given: the numbers were lost from our copy of paper 004.",
        "",
        *(
            [
                "The networks' local matrices are projected onto zero row and column sums wherever "
                "the labels have them (`--project-output`), without retraining.",
                "",
            ]
            if any(r.get("projected_after_training") for r in table.values())
            else []
        ),
        "| experiment | dataset | epochs (Adam steps) | train / val / test loss | contrast | "
        "‖S_A − Ŝ_A‖₂ | ‖u_h − û_h‖_L² (rel.) | MC: mean L² error, max abs(E û − E u) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in table.items():
        mc = r.get("monte_carlo")
        mc_text = (
            f"{mc['mean_l2_error_pglod_vs_nnlod']:.2e}, "
            f"{mc['max_abs_mean_nnlod_minus_pglod']:.2e} (M={mc['samples']})"
            if mc
            else "—"
        )
        lines.append(
            f"| {key} | {r['dataset']} | {r.get('epochs', '?')} ({r.get('optimiser_steps', '?')}) "
            f"| {r['train_loss']:.2e} / {r['val_loss']:.2e} / "
            f"{r['test_loss']:.2e} | {r['contrast']:.1e} | {r['spectral']:.2e} | "
            f"{r['l2']:.2e} ({r['l2_relative']:.1e}) | {mc_text} |"
        )
    stats = {key: r["statistics"] for key, r in table.items() if "statistics" in r}
    if stats:
        lines += ["", *statistics_table(stats)]
    mcs = {key: r["monte_carlo"] for key, r in table.items() if "monte_carlo" in r}
    if mcs:
        lines += ["", *monte_carlo_table(mcs)]
    # The paper's statements (its numbers are lost), each against ours.
    histories = {key: r["history"] for key, r in table.items() if "history" in r}
    if longer is not None:
        n = len(longer["val_loss"])
        histories[f"exp3-small the same run to a {n}-epoch cap"] = longer
        plot_histories(
            {f"exp3-small to {n} epochs": longer},
            out / "exp3-small-longer-loss.png",
            f"Exp. 3, small set, taken on to {n} epochs",
        )
    lines += [
        "",
        "## The paper's statements",
        "",
        *statements_table(check_statements(table, histories)),
    ]
    if beside is not None:
        folder, other = beside
        pairs = {}
        for key in table:
            if key.endswith("-large") and "statistics" in other.get(key, {}):
                pairs[f"{key} plain"] = table[key]["statistics"]
                pairs[f"{key} structured"] = other[key]["statistics"]
        lines += [
            "",
            "## The structure-preserving network (ours) beside the plain one",
            "",
            f"Its rows are in `{folder}/table.json` (`--structured`, from "
            "`networks/paper000-structured`, the same data and schedules). Test losses: "
            + ", ".join(
                f"{key} {table[key]['test_loss']:.2e} plain, {other[key]['test_loss']:.2e} "
                "structured"
                for key in table
                if key.endswith("-large") and key in other
            )
            + ".",
            "",
            *statistics_table(pairs),
            "",
            "Does it change the paper's conclusions? The statements with its large-set "
            "networks in place of the plain ones (the small sets stay plain):",
            "",
            *verdicts_beside(table, other, histories),
        ]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    if beside is not None:  # the large set's losses, plain and structured, per contrast
        for k in CONTRAST:
            runs = {
                f"{kind} ({rows[f'exp{k}-large']['dataset']})": rows[f"exp{k}-large"]["history"]
                for kind, rows in (("plain", table), ("structured", beside[1]))
                if "history" in rows.get(f"exp{k}-large", {})
            }
            if len(runs) == 2:
                plot_histories(
                    runs, out / f"exp{k}-large-beside.png", f"Exp. {k}, large set: both networks"
                )
    for k in CONTRAST:  # Figs. 2, 4, 6: both set sizes of one contrast in one figure
        runs = {
            f"{size} ({table[f'exp{k}-{size}']['dataset']})": table[f"exp{k}-{size}"]["history"]
            for size in ("small", "large")
            if "history" in table.get(f"exp{k}-{size}", {})
        }
        if len(runs) == 2:
            plot_histories(runs, out / f"exp{k}-loss.png", f"Exp. {k}: {CONTRAST[k]} contrast")
    print(f"results in {out}/")


def main(argv=None) -> int:
    p = experiment_parser(__doc__)
    p.add_argument(
        "--experiments",
        nargs="+",
        default=["1", "2", "3", "1H", "2H", "3H"],
        choices=["1", "2", "3", "1H", "2H", "3H"],
    )
    p.add_argument(
        "--base-network",
        help="paper-000 network file or exported folder "
        "(default: $NH_STATE/checkpoints/paper000[-reduced]/last.pt)",
    )
    p.add_argument(
        "--mc-samples", type=int, help="Monte Carlo samples (default: 200 paper, 16 reduced)"
    )
    p.add_argument(
        "--networks",
        help="folder of exported networks paper004-<contrast>-<size> and "
        "paper004-hierarchical-<contrast> (e.g. networks/): use them, no data, no training",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        default=["small", "large"],
        choices=["small", "large"],
        help="Table 1 set sizes of Exps. 1-3 (--preset paper; default both)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="only write table.md and the loss figures of the rows already in --out/table.json",
    )
    p.add_argument(
        "--beside",
        metavar="FOLDER",
        help="with --report: the folder of the structure-preserving network's table.json "
        "(--structured runs on the large sets), compared with the plain rows",
    )
    p.add_argument(
        "--longer-history",
        metavar="HISTORY_JSON",
        help="with --report: the history.json of the small high-contrast run (exp3-small) "
        "taken on to a higher epoch cap; Sec. 5.7's stall is checked on it too",
    )
    p.add_argument(
        "--recompute",
        action="store_true",
        help="evaluate every network again, also those whose row is in the table already",
    )
    p.add_argument("--export", help="export every trained network into this folder")
    p.add_argument(
        "--export-dtype",
        choices=("float32", "float16", "bfloat16"),
        help="storage precision of --export (default: the training's)",
    )
    add_experiment_arguments(p, "004")
    args = p.parse_args(argv)
    comm = MPI.COMM_WORLD
    if args.report:  # nothing computed: the report of the rows in --out
        if not args.out:
            raise CollectiveError("--report needs --out, the folder of the table.json to report")
        with collective(comm):
            table = read_results_table(pathlib.Path(args.out) / "table.json")
            if not table:
                raise ValueError(f"{args.out}/table.json does not exist: nothing to report")
            beside = None
            if args.beside:
                other = read_results_table(pathlib.Path(args.beside) / "table.json")
                if not other:
                    raise ValueError(f"--beside {args.beside}: it holds no table.json")
                beside = (args.beside, other)
            longer = None
            if args.longer_history:
                from nn_compress.statements import continued

                if "history" not in table.get("exp3-small", {}):
                    raise ValueError("--longer-history: the table has no exp3-small row to go on")
                longer = continued(
                    table["exp3-small"]["history"],
                    read_json(args.longer_history, "loss history"),
                    f"--longer-history {args.longer_history}",
                )
        if comm.rank == 0:
            write_report(table, pathlib.Path(args.out), args.preset, beside, longer)
        return 0
    for option in ("beside", "longer_history"):
        if getattr(args, option):
            flag = "--" + option.replace("_", "-")
            raise CollectiveError(f"{flag} goes with --report (it only compares tables)")
    reduced = args.preset == "reduced"
    m_samples = args.mc_samples if args.mc_samples is not None else (16 if reduced else 200)
    check_experiment_arguments(args, **{"--mc-samples": (m_samples, 1)})
    if args.project_output and args.structured:
        raise CollectiveError(
            "--project-output projects a plain network's output; a structured one keeps the "
            "structure already: drop one of the two"
        )
    projected = args.project_output

    from plumbing.threads import limit_threads

    limit_threads(args.threads)  # before any training or evaluation: one count for the run
    from nn_compress.fields import sample
    from nn_compress.surrogate import NNLODSurrogate, compare, monte_carlo
    from nn_compress.figures import plot_comparison, plot_distributions, plot_monte_carlo
    from nn_compress.statistics import error_distribution, statistics_record
    from lod_fenicsx.corrector import PatchSolver
    from nn_compress.dataset import presets
    from nn_compress.network import layer_sizes
    from nn_compress.training import check_resumable, export_network, load_model, plot_history

    base_name = network_name("paper000-reduced" if reduced else "paper000", args.structured)
    tag = base_tag(args.base_network)  # networks grown from another base get their own folders
    base = args.base_network or checkpoint_dir(base_name) / NETWORK_FILE
    sizes = ["reduced"] if reduced else args.sizes
    first = presets()[f"paper004-low-{sizes[0]}"]
    wanted = layer_sizes(first.n_sub, first.ell)
    runs = [
        (exp, f"paper004-hierarchical-{CONTRAST[exp[0]]}" + ("-reduced" if reduced else ""))
        if exp.endswith("H")
        else (exp, f"paper004-{CONTRAST[exp[0]]}-{size}")
        for exp in args.experiments
        for size in ([None] if exp.endswith("H") else sizes)
    ]

    def plan(exp: str, dataset: str):
        """(schedule, the other training settings) of a run, as ``ensure_network`` takes them."""
        c, hierarchical = CONTRAST[exp[0]], exp.endswith("H")
        init, sched = base, "reduced004" if reduced else "paper004"
        if hierarchical:  # transfer from the large set's network of the same contrast (Sec. 6)
            large = f"paper004-{c}-" + ("reduced" if reduced else "large")
            name = network_name(large, args.structured, tag)
            if (checkpoint_dir(name) / NETWORK_FILE).exists():
                init = checkpoint_dir(name) / NETWORK_FILE
            elif (exp[0], large) not in [(e[0], d) for e, d in runs if not e.endswith("H")]:
                # never a silent start from the paper-000 network instead
                raise ValueError(
                    f"Exp. {exp} starts from the network of Exp. {exp[0]} on the {large} set, "
                    f"and {checkpoint_dir(name)} has none: run --experiments {exp[0]}"
                    + ("" if reduced else " --sizes large")
                    + " first (or in the same command)"
                )
            sched += "-hierarchical"  # Sec. 6: two stages
        elif not reduced and presets()[dataset].n_samples > 800:  # the 3200-coefficient sets
            sched = "paper004-large"
        return sched, dict(
            init_from=init, base=tag, structured=args.structured, threads=args.threads
        )

    # Every rank reads the networks and the datasets, checks the folders and reads the table
    # alike, before any output: a damaged file is one line from rank 0.
    with collective(comm):
        if args.networks:  # every network there and of the right sizes
            for option, value in (
                ("--export", args.export),
                ("--export-dtype", args.export_dtype),
                ("--base-network", args.base_network),
            ):
                if value is not None:  # it would be ignored: nothing is trained with --networks
                    raise ValueError(
                        f"{option} goes with training; --networks uses the networks there as "
                        "they are: drop one of the two"
                    )
            for _, dataset in runs:
                folder = pathlib.Path(args.networks) / network_name(dataset, args.structured)
                try:
                    model, card = load_model(folder, dim=2)
                except ValueError as e:
                    raise ValueError(f"--networks: {e}") from None
                found = model.sizes
                if "losses" not in card:
                    raise ValueError(
                        f"--networks: {folder} has no losses on its card (export it with this "
                        "script's --export)"
                    )
                if found != wanted:
                    raise ValueError(
                        f"--networks: {folder} has layer sizes {found}, not {wanted} (n = 8, ℓ = 2)"
                    )
        else:
            if not pathlib.Path(base).exists():
                raise ValueError(
                    f"{base} does not exist: run demos/paper000_experiments.py --preset "
                    f"{args.preset} first"
                )
            if args.export_dtype and not args.export:
                raise ValueError(f"--export-dtype {args.export_dtype} goes with --export FOLDER")
            # Before any data is generated: the base network must fit the datasets'
            # discretization, and a dataset file already there must hold its preset (generate
            # refuses another one, but only after the output folder and earlier rows exist).
            try:
                base_sizes = load_model(base, dim=2)[0].sizes
            except ValueError as e:
                raise ValueError(f"--base-network: {e}") from None
            for exp, dataset in runs:
                check_dataset_file(dataset_path(dataset), presets()[dataset])
                # A checkpoint folder of another run's configuration, refused now rather than
                # when its training would start, after the rows before it are written.
                sched, settings = plan(exp, dataset)
                check_resumable(network_config(dataset, sched, **settings))
            if base_sizes != wanted:
                raise ValueError(
                    f"--base-network {base}: layer sizes {base_sizes} do not fit the paper-004 "
                    f"datasets (n = 8, ℓ = 2: {wanted}); pass the paper-000 network"
                )
        if args.export:
            check_writable(args.export, "export folder", folder=True)
        default_out = f"results/{network_name(f'paper004-{args.preset}', args.structured, tag)}"
        out = check_writable(args.out or default_out, "output folder", folder=True)
        table_path = out / "table.json"
        table = read_results_table(table_path)

    for exp, dataset in runs:
        c, hierarchical = CONTRAST[exp[0]], exp.endswith("H")
        if hierarchical:
            family, key = f"hierarchical-{c}", f"exp{exp}"
        else:
            family, key = f"lognormal-{c}", f"exp{exp}-{dataset.rsplit('-', 1)[1]}"
        shipped = network_name(dataset, args.structured)
        if args.networks:  # trained already: where it started from is on its card
            network = pathlib.Path(args.networks) / shipped
            card = load_model(network)[1]
            losses, init = card["losses"], card["config"].get("init_from")
        else:
            sched, settings = plan(exp, dataset)
            init = settings["init_from"]
            network, losses = ensure_network(comm, dataset, sched, **settings)
            if args.export and comm.rank == 0:
                export_network(
                    network,
                    pathlib.Path(args.export) / shipped,
                    extra={"losses": losses},
                    dtype=args.export_dtype,
                )
        same = same_row(table.get(key), losses, args.statistics, m_samples, projected)
        if not args.recompute and same:
            if comm.rank == 0:
                print(f"{key}: its row is in {table_path} already (--recompute to redo it)")
            continue
        started = time.perf_counter()  # the evaluation: fresh coefficient, statistics, MC
        with collective(comm):  # read by every rank
            model, ckpt = load_model(network)
        g = ckpt["generation_config"]
        surrogate = NNLODSurrogate(model, g["n_coarse"], g["n_sub"], g["ell"], project=projected)
        # The PG-LOD references by the condensed backend: the same matrices, faster.
        ps = PatchSolver(g["n_coarse"], g["n_sub"], g["ell"], backend="condensed")
        smp = sample(family, FRESH_INDEX, g["base_seed"], g["n_coarse"] * g["n_sub"])
        res = compare(comm, surrogate, smp.coefficient, smp.network_input, rhs=RHS, patch_solver=ps)
        if comm.rank == 0:  # loss curves (Figs. 2, 4, 6) next to the results
            plot_history(ckpt["history"], out / f"{key}-loss.png")
        row = {
            "dataset": dataset,
            "initial_network": str(init),
            "family": family,
            "contrast": smp.contrast,
            "params": dict(smp.params),
            "spectral": res.spectral_error,
            "l2": res.l2_error,
            "l2_relative": res.l2_error / res.l2_norm_pglod,
            "structured": model.structured,
            "projected_after_training": projected,
            "history": {k: ckpt["history"][k] for k in ("epoch", "train_loss", "val_loss")},
            **losses,
        }
        if args.statistics:
            values = error_distribution(
                comm, surrogate, family, args.statistics, g["base_seed"], RHS, patch_solver=ps
            )
            row["statistics"] = statistics_record(values, family=family)
            if comm.rank == 0:
                plot_distributions(
                    out / f"{key}-distribution.png",
                    {"NN-LOD": values},
                    f"paper 004 {key}: {args.statistics} held-out samples of {family}",
                )
        if comm.rank == 0:
            plot_comparison(
                out / f"{key}.png",
                smp.coefficient,
                res.u_pglod,
                res.u_nnlod,
                f"paper 004 {key}: {family}, contrast {smp.contrast:.1e}; ‖S−Ŝ‖₂ = "
                f"{res.spectral_error:.2e}, L² error = {res.l2_error:.2e}",
            )
        if hierarchical:
            from lod_fenicsx.discretization import Discretization
            from lod_fenicsx.reference import fine_solve

            disc = Discretization(MPI.COMM_SELF, g["n_coarse"], g["n_sub"])
            _, u_fem = fine_solve(disc, smp.coefficient, RHS) if comm.rank == 0 else (None, None)
            fresh = [
                sample(family, FRESH_INDEX + 1 + i, g["base_seed"], g["n_coarse"] * g["n_sub"])
                for i in range(m_samples)
            ]
            mc = monte_carlo(
                comm,
                surrogate,
                fresh,
                rhs=RHS,
                fem=True,
                progress=sys.stderr.isatty(),
                patch_solver=ps,
            )
            n = g["n_sub"]
            row["monte_carlo"] = {
                "samples": m_samples,
                "mean_l2_error_pglod_vs_nnlod": float(np.mean(mc.l2_errors)),
                "max_abs_mean_nnlod_minus_pglod": float(
                    np.abs(mc.mean_nnlod - mc.mean_pglod).max()
                ),
                "max_abs_mean_pglod_minus_fem_at_coarse_nodes": float(
                    np.abs(mc.mean_pglod - mc.mean_fem[::n, ::n]).max()
                ),
                "max_mean_fem": float(mc.mean_fem.max()),
                "max_mean_pglod": float(mc.mean_pglod.max()),
                "max_mean_nnlod": float(mc.mean_nnlod.max()),
                "median_contrast": float(np.median(mc.contrasts)),
                # Largest half-widths of the pointwise 95 % intervals: of the FEM mean, and
                # of the mean differences (paired: the same coefficients for all methods).
                "ci95_mean_fem": float(mc.half_width("fem").max()),
                "ci95_nnlod_minus_pglod": float(mc.half_width("nnlod_minus_pglod").max()),
                "ci95_pglod_minus_fem": float(mc.half_width("pglod_minus_fem").max()),
            }
            if comm.rank == 0:
                plot_monte_carlo(
                    out / f"{key}-mc.png",
                    u_fem,
                    res.u_pglod,
                    res.u_nnlod,
                    mc.mean_fem,
                    mc.mean_pglod,
                    mc.mean_nnlod,
                    f"paper 004 {key}: {family}, M = {m_samples}",
                )
        ps.close()
        row["evaluation_seconds"] = time.perf_counter() - started
        table[key] = row
        if comm.rank == 0:
            print(
                f"{key}: test loss {losses['test_loss']:.3e}, contrast {smp.contrast:.1e}, "
                f"‖S_A − Ŝ_A‖_2 = {res.spectral_error:.3e}, ‖u_h − û_h‖_L2 = {res.l2_error:.3e}"
                + (f", MC {row['monte_carlo']}" if hierarchical else ""),
                flush=True,
            )
            # Another run (another contrast, on the other core) may add rows to the same file.
            table = update_json(table_path, key, row)
    if comm.rank == 0:
        write_report(table, out, args.preset)
    return 0


if __name__ == "__main__":
    sys.exit(run("paper004_experiments", main, comm=MPI.COMM_WORLD))
