"""demos/compare_results.py: how far two results tables differ (float16 against float32
exports of the paper-004 networks, issue 31)."""

import json

from helpers import load_demo

from plumbing.cli import run


def _row(l2, median, seconds):
    return {
        "l2": l2,
        "statistics": {"summary": {"l2": {"median": median, "n": 50}}},
        "monte_carlo": {"samples": 200, "max_abs_mean_nnlod_minus_pglod": 1e-3},
        "evaluation_seconds": seconds,
        "history": {"val_loss": [1.0, 0.5]},
    }


def test_rows_within_and_beyond_the_tolerance(tmp_path, capsys):
    a = {"exp1-large": _row(2.0, 1.0, 10.0), "exp2-large": _row(4.0, 3.0, 10.0)}
    b = {"exp1-large": _row(2.01, 1.002, 99.0), "exp2-large": _row(4.0, 3.0, 10.0)}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    main = load_demo("compare_results").main
    out = tmp_path / "cmp.md"
    args = [str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(out)]
    assert run("compare_results", main, args) == 0
    text = out.read_text()
    assert "| exp1-large | 3 | 5.00e-03 | l2 |" in text  # times and histories are not errors
    assert "| exp2-large | 3 | 0.00e+00 |" in text and "within 0.01: yes" in text
    # per quantity: the fresh coefficient's l2 and the held-out median apart
    assert "| exp1-large | l2 | 5.00e-03 |" in text
    assert "| exp1-large | held-out l2 | 2.00e-03 |" in text
    assert run("compare_results", main, args + ["--tolerance", "0.004"]) == 0
    assert "within 0.004: no" in out.read_text()
    (tmp_path / "c.json").write_bytes(b"\x00\x01not json")
    capsys.readouterr()
    assert run("compare_results", main, [str(tmp_path / "a.json"), str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "c.json" in err[0] and err[0].startswith("compare_results: error:")
