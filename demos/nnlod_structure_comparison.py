"""Plain vs structure-preserving NN-LOD networks: the error distributions side by side.

The structure-preserving network (``--structured`` of the experiment scripts; not in the
papers) projects its output onto local matrices whose rows and columns sum to zero, as those of
the exact S_{A,T} do. Both networks are trained on the same data with the same schedule (the same
number of Adam steps); this script reads the two experiment tables and writes, per experiment, the
median and 10 / 90 % quantiles of ‖S_A − Ŝ_A‖₂, the relative L² error of û_h and the row-sum bias
over the held-out samples, with box plots::

    mpirun -n 2 python3 demos/paper000_experiments.py --preset reduced
    mpirun -n 2 python3 demos/paper000_experiments.py --preset reduced --structured
    python3 demos/nnlod_structure_comparison.py --plain results/paper000-reduced \\
        --structured results/paper000-reduced-structured --out results/structure-000
"""

import argparse
import json
import pathlib
import sys

from plumbing.cli import check_writable, run
from plumbing.readers import read_json, reading
from nn_compress.figures import plot_distributions
from nn_compress.statistics import summary_text


def statistics_of(table: dict) -> dict:
    """{experiment: statistics record} of a paper-000 or paper-004 table."""
    if "statistics" in table:  # paper 000: one record per experiment
        return table["statistics"]
    return {key: row["statistics"] for key, row in table.items() if "statistics" in row}


def test_loss_of(table: dict, key: str):
    row = table.get(key, table)
    return row.get("test_loss")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--plain", required=True, help="results folder of the plain networks")
    p.add_argument("--structured", required=True, help="results folder of the structured networks")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    tables = {}
    stats = {}
    for label, folder in (("plain", args.plain), ("structured", args.structured)):
        path = pathlib.Path(folder) / "table.json"
        expected = "the table.json of demos/paper000_experiments.py or paper004_experiments.py"
        tables[label] = read_json(
            path, "results table", expected, f"run the experiment script into {folder} first"
        )
        with reading(path, "results table", expected):
            stats[label] = statistics_of(tables[label])
            if not all(isinstance(record, dict) for record in stats[label].values()):
                raise ValueError("its statistics are not one object per experiment")
    common = [k for k in stats["plain"] if k in stats["structured"]]
    if not common:
        raise ValueError(
            f"the tables of {args.plain} and {args.structured} share no experiment with error "
            "statistics (run both experiment scripts with --statistics > 0)"
        )
    out = check_writable(args.out, "output folder", folder=True)
    names = {
        "spectral": "‖S_A − Ŝ_A‖₂",
        "l2_relative": "relative L² error",
        "row_sum_bias": "row-sum bias of Ŝ_A",
    }
    lines = [
        "# Plain vs structure-preserving NN-LOD network",
        "",
        f"Plain: `{args.plain}`; structured: `{args.structured}` (same data, same schedule). "
        "Each cell: median [10 %, 90 %] over the held-out samples.",
        "",
        "| experiment | network | test loss | samples | " + " | ".join(names.values()) + " |",
        "|---|---|---|---|" + "---|" * len(names),
    ]
    for key in common:
        for label in ("plain", "structured"):
            sm = stats[label][key]["summary"]
            loss = test_loss_of(tables[label], key)
            loss_text = "—" if loss is None else f"{loss:.2e}"
            lines.append(
                f"| {key} | {label} | {loss_text} | {sm['l2']['n']} | "
                + " | ".join(summary_text(sm[q]) for q in names)
                + " |"
            )
        plot_distributions(
            out / f"{key}-plain-vs-structured.png",
            {label: stats[label][key]["values"] for label in ("plain", "structured")},
            f"{key}: plain vs structure-preserving network",
        )
        ratio = {
            q: stats["plain"][key]["summary"][q]["median"]
            / stats["structured"][key]["summary"][q]["median"]
            for q in ("spectral", "l2_relative")
        }
        lines.append(
            f"| {key} | ratio of medians | | | {ratio['spectral']:.2f} | "
            f"{ratio['l2_relative']:.1f} | |"
        )
    record = {key: {label: stats[label][key]["summary"] for label in stats} for key in common}
    (out / "comparison.json").write_text(json.dumps(record, indent=1))
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(run("nnlod_structure_comparison", main, serial=True))
