"""How far two results tables of the experiment demos differ, row by row.

For a choice that should not change the results, for example storing a network's weights as
float16 instead of float32 (``--export-dtype``), run the same experiments from both exports
(``paper004_experiments.py --networks A --out resA``, then ``--networks B --out resB``) and
compare: for every row, the largest relative change over the errors both tables report
(``nn_compress.statistics.result_changes``: ‖S − Ŝ‖₂, the L² errors, their distributions over
the held-out coefficients, the Monte Carlo differences), and whether it stays within
``--tolerance``::

    python3 demos/compare_results.py resA/table.json resB/table.json --tolerance 0.01 \\
        --out demos/results/paper004_paper/float16.md
"""

import argparse
import pathlib
import sys

from plumbing.cli import check_writable, run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=pathlib.Path, help="table.json of the reference run")
    p.add_argument("after", type=pathlib.Path, help="table.json of the run to compare")
    p.add_argument("--tolerance", type=float, default=0.01, help="largest relative change")
    p.add_argument("--out", type=pathlib.Path, help="also write the table here (Markdown)")
    args = p.parse_args(argv)
    if not 0 < args.tolerance < 1:
        raise ValueError(f"--tolerance {args.tolerance}: must be in (0, 1), e.g. 0.01")
    from plumbing.readers import read_json
    from nn_compress.statistics import result_changes

    before = read_json(args.before, "results table")
    after = read_json(args.after, "results table")
    if args.out is not None:
        check_writable(args.out)
    changes = result_changes(before, after)
    if not changes:
        raise ValueError(f"{args.before} and {args.after} have no row with errors in common")
    within = all(c["max"] <= args.tolerance for c in changes.values())
    lines = [
        f"# {args.after} against {args.before}",
        "",
        "Written by `demos/compare_results.py`: per row, the largest relative change over the "
        "errors both tables report (`nn_compress.statistics.result_changes`).",
        "",
        "| row | errors compared | largest relative change | where |",
        "|---|---|---|---|",
        *(
            f"| {key} | {c['values']} | {c['max']:.2e} | {c['where']} |"
            for key, c in changes.items()
        ),
        "",
        f"Every change within {args.tolerance:g}: {'yes' if within else 'no'}.",
        "",
        "Per quantity (`held-out`: the median, 10 / 90 % and the other summaries over the "
        "held-out coefficients), the largest relative change:",
        "",
        "| row | quantity | largest relative change |",
        "|---|---|---|",
        *(
            f"| {key} | {q} | {v:.2e} |"
            for key, c in changes.items()
            for q, v in c["by_quantity"].items()
        ),
    ]
    print("\n".join(lines))
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run("compare_results", main))
