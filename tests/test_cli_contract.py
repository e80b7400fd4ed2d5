"""The error contract of the command lines: one clear line and exit status 2, never a traceback;
0 means zero; nothing expensive happens before the arguments and outputs are checked."""

import json
import h5py
import numpy as np
import pytest
import torch
from mpi4py import MPI

from lod_fenicsx.__main__ import main as solve_main
from helpers import DEMOS, load_demo, markdown_tables, solve_argv

from plumbing.cli import run
from plumbing.threads import set_blas_threads
from nn_compress.dataset import GenerationConfig, generate


def _one_error_line(capsys, *fragments):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- python3 -m lod_fenicsx solve ----------------------------------------------------------------
@pytest.fixture
def coefficient_file(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).uniform(1, 5, (8, 8)))
    return tmp_path / "a.npy"


def _solve(coefficient, out, *extra):
    return solve_main(solve_argv(coefficient, out, "--no-fine", *extra))


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--n-coarse", "-4", "--n-sub", "-4"], ["--n-coarse -4: must be at least 2"]),
        (
            ["--n-coarse", "1", "--n-sub", "8"],
            ["--n-coarse 1: must be at least 2", "no interior coarse node"],
        ),
        (["--ell", "-1"], ["--ell -1: must be at least 0"]),
    ],
)
def test_solve_refuses_sizes_outside_the_mathematics(
    coefficient_file, tmp_path, capsys, args, fragments
):
    assert _solve(coefficient_file, tmp_path / "r.h5", *args) == 2
    _one_error_line(capsys, *fragments)


def test_solve_names_a_file_that_is_neither_npy_nor_hdf5(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("1 2 3")
    assert _solve(tmp_path / "a.txt", tmp_path / "r.h5") == 2
    _one_error_line(capsys, "a.txt is neither a .npy file nor HDF5", "numpy.save")


def test_solve_checks_the_output_before_solving(coefficient_file, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _solve(coefficient_file, blocker / "r.h5") == 2  # a file where a folder should be
    _one_error_line(capsys, "cannot write the output file", "choose a writable place")


def test_solve_ell_zero_and_ell_beyond_the_domain(coefficient_file, tmp_path, capsys):
    a = np.random.default_rng(0).uniform(1, 5, (12, 12))
    np.save(tmp_path / "b.npy", a)
    args = [
        "solve",
        "--coefficient",
        str(tmp_path / "b.npy"),
        "--n-coarse",
        "4",
        "--n-sub",
        "3",
        "--no-fine",
    ]
    assert solve_main(args + ["--ell", "0", "--out", str(tmp_path / "l0.h5")]) == 0
    assert (
        solve_main(args + ["--ell", "1000", "--out", str(tmp_path / "l1000.h5")]) == 0
    )  # not out of memory
    assert solve_main(args + ["--ell", "3", "--out", str(tmp_path / "l3.h5")]) == 0
    assert "every patch is the whole domain" in capsys.readouterr().out
    with h5py.File(tmp_path / "l1000.h5") as f, h5py.File(tmp_path / "l3.h5") as g:
        assert np.abs(f["u_coarse"][...] - g["u_coarse"][...]).max() < 1e-14


# -- demos/train.py --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tiny.h5"
    generate(MPI.COMM_SELF, GenerationConfig(4, 2, 1, {"A1": 10}), path, progress=False)
    return path


def _train(dataset, ckpt, *extra):
    return run(
        "train",
        load_demo("train").main,
        [
            "--dataset",
            str(dataset),
            "--checkpoint-dir",
            str(ckpt),
            "--schedule",
            "0:1e-3",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            *extra,
        ],
    )


@pytest.mark.parametrize(
    "option, value",
    [("--epochs", "0"), ("--batch-size", "-5"), ("--batch-size", "0"), ("--threads", "0")],
)
def test_train_zero_means_zero(dataset, tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_:
        _train(dataset, tmp_path / "c", option, value)
    assert exit_.value.code == 2
    assert f"{option} {value}: must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "c" / "last.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_train_cuda_without_a_gpu(dataset, tmp_path, capsys):
    assert _train(dataset, tmp_path / "c", "--device", "cuda") == 2
    _one_error_line(capsys, "sees no CUDA GPU", "--device cpu")


def test_train_unreadable_checkpoints_and_foreign_files(dataset, tmp_path, capsys):
    ckpt = tmp_path / "c"
    assert _train(dataset, ckpt) == 0
    good = (ckpt / "last.pt").read_bytes()
    capsys.readouterr()
    (ckpt / "last.pt").write_bytes(good[: len(good) // 3])  # truncated
    assert _train(dataset, ckpt, "--epochs", "2") == 2
    _one_error_line(capsys, "last.pt is not a readable checkpoint", "truncated or foreign")
    torch.save({"something": 1}, ckpt / "last.pt")  # foreign
    assert _train(dataset, ckpt, "--epochs", "2") == 2
    _one_error_line(capsys, "not a checkpoint of nn_compress.training")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert _train(dataset, tmp_path / "d", "--init-from", str(tmp_path / "bad.pt")) == 2
    _one_error_line(capsys, "bad.pt is not a readable checkpoint")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    assert _train(tmp_path / "other.h5", tmp_path / "e") == 2
    _one_error_line(capsys, "other.h5 is an HDF5 file but not a dataset")


def test_train_refuses_to_resume_on_a_dataset_made_anew(dataset, tmp_path, capsys):
    data = tmp_path / "d.h5"
    data.write_bytes(dataset.read_bytes())
    assert _train(data, tmp_path / "c") == 0
    data.unlink()
    generate(
        MPI.COMM_SELF, GenerationConfig(4, 2, 1, {"A1": 10}), data, progress=False
    )  # same settings, new file
    capsys.readouterr()
    assert _train(data, tmp_path / "c", "--epochs", "2") == 2
    _one_error_line(capsys, "was trained on another dataset file", "--no-resume")
    assert _train(data, tmp_path / "c", "--epochs", "2", "--no-resume") == 0


def test_train_help_lists_every_schedule(capsys):
    with pytest.raises(SystemExit):
        load_demo("train").main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("paper000", "paper004", "reduced000", "reduced004"))


# -- demos/generate.py -----------------------------------------------------------------------------
def test_generate_accepts_out_and_is_quiet_in_a_pipe(tmp_path, capsys):
    gen = load_demo("generate")
    assert (
        run(
            "generate",
            gen.main,
            ["--preset", "small", "--samples-per-family", "1", "--out", str(tmp_path / "g.h5")],
        )
        == 0
    )
    captured = capsys.readouterr()
    assert (
        (tmp_path / "g.h5").exists() and "sample/s" not in captured.err and "%|" not in captured.err
    )


def test_paper004_refuses_a_base_network_of_the_wrong_size_before_any_data(
    tmp_path, capsys, monkeypatch
):
    from nn_compress.network import CompressionNetwork, layer_sizes

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))  # checkpoints and data under tmp_path
    torch.save(
        {
            "layer_sizes": layer_sizes(2, 1),
            "model": CompressionNetwork(layer_sizes(2, 1)).state_dict(),
        },
        tmp_path / "small.pt",
    )
    code = run(
        "paper004_experiments",
        load_demo("paper004_experiments").main,
        ["--base-network", str(tmp_path / "small.pt"), "--experiments", "1"],
    )
    assert code == 2
    _one_error_line(capsys, "layer sizes", "do not fit the paper-004 datasets")
    assert not (tmp_path / "data").exists()


def test_dockerignore_keeps_outputs_out_of_the_image():
    ignored = (DEMOS.parent / ".dockerignore").read_text().split()
    assert {"data/", "checkpoints/", "results/", ".git/"} <= set(ignored)


def _blas_threads() -> set[int]:
    """The thread counts of the BLAS libraries this process has loaded."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_paper004_path_from_data_to_table_on_a_tiny_grid(tmp_path, monkeypatch, capsys):
    """Generation, transfer learning and the table with distributions of paper004_experiments,
    with the reduced preset swapped for a 4 x 4 grid (the real one is 32 x 32)."""
    import nn_compress.dataset as dataset
    from nn_compress.network import CompressionNetwork, layer_sizes

    import nn_compress.pipeline as pipeline

    from nn_compress.fields import representative_families

    real = dataset.presets
    tiny = {
        "paper004-low-reduced": GenerationConfig(4, 2, 1, {"lognormal-low": 10}),
        "paper004-hierarchical-low-reduced": GenerationConfig(
            4, 2, 1, {name: 10 for name in representative_families("low")}
        ),
    }
    for module in (dataset, pipeline):  # the pipeline holds its own reference
        monkeypatch.setattr(module, "presets", lambda: {**real(), **tiny})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))  # checkpoints and data under tmp_path
    sizes = layer_sizes(2, 1)
    torch.save(
        {"layer_sizes": sizes, "model": CompressionNetwork(sizes).state_dict()},
        tmp_path / "base.pt",
    )
    args = ["--base-network", "base.pt", "--experiments", "1", "1H", "--statistics", "2"]
    args += ["--mc-samples", "3", "--out", "res", "--export", "nets", "--export-dtype", "float16"]
    assert run("paper004_experiments", load_demo("paper004_experiments").main, args) == 0
    table = (tmp_path / "res" / "table.md").read_text()
    assert "| exp1-reduced | paper004-low-reduced |" in table and "| exp1-reduced | 2 |" in table
    assert (tmp_path / "checkpoints" / "paper004-low-reduced" / "test_loss.json").exists()
    assert "## The paper's statements" in table and "| 6.1 | hierarchical, low contrast" in table
    mc = json.loads((tmp_path / "res" / "table.json").read_text())["exp1H"]["monte_carlo"]
    assert mc["samples"] == 3 and 0 < mc["ci95_nnlod_minus_pglod"] < float("inf")
    assert 0 < mc["ci95_mean_fem"] < mc["max_mean_fem"] and mc["max_mean_pglod"] > 0
    # The same command again (a queue resumed in a later session): the finished rows are kept,
    # not evaluated again; --recompute redoes them.
    rows = json.loads((tmp_path / "res" / "table.json").read_text())
    capsys.readouterr()
    assert run("paper004_experiments", load_demo("paper004_experiments").main, args) == 0
    assert "exp1H: its row is in" in capsys.readouterr().out
    assert json.loads((tmp_path / "res" / "table.json").read_text()) == rows
    # One factor changed: the same network, its output projected onto zero row sums.
    args = ["--base-network", "base.pt", "--experiments", "1", "--statistics", "2"]
    assert run("paper004_experiments", load_demo("paper004_experiments").main,
               [*args, "--project-output", "--out", "res"]) == 0  # fmt: skip
    projected = json.loads((tmp_path / "res" / "table.json").read_text())["exp1-reduced"]
    assert projected["projected_after_training"] and projected["test_loss"] == rows[
        "exp1-reduced"]["test_loss"]  # fmt: skip
    assert projected["spectral"] != rows["exp1-reduced"]["spectral"]  # (4 x 4: no deep interior)
    # The exported networks reproduce the rows without data or training (float16 weights: the
    # errors move by the rounding of the weights only).
    assert sorted(p.name for p in (tmp_path / "nets").iterdir()) == [
        "paper004-hierarchical-low-reduced",
        "paper004-low-reduced",
    ]
    args = ["--networks", "nets", "--experiments", "1", "1H", "--statistics", "2"]
    args += ["--mc-samples", "3", "--out", "again"]
    set_blas_threads(2)  # a fresh process: OpenBLAS on every core
    assert run("paper004_experiments", load_demo("paper004_experiments").main, args) == 0
    # --threads (1) holds for BLAS too, as in the training run: on the paper's sets a second
    # BLAS thread moved the held-out errors of a float32 export by up to 7.7e-5 (relative)
    assert _blas_threads() == {1}
    again = json.loads((tmp_path / "again" / "table.json").read_text())
    for key in ("exp1-reduced", "exp1H"):  # against the rows before the projected run
        assert again[key]["test_loss"] == rows[key]["test_loss"]
        assert abs(again[key]["spectral"] / rows[key]["spectral"] - 1) < 1e-3  # 1e-5 seen
    # A hierarchical network alone, with no training state at all (a user with networks/ only):
    # it does not look for the Exp. 1 network it was trained from.
    monkeypatch.setenv("NH_STATE", str(tmp_path / "empty"))
    args = ["--networks", "nets", "--experiments", "1H", "--statistics", "2"]
    assert run("paper004_experiments", load_demo("paper004_experiments").main,
               [*args, "--mc-samples", "3", "--out", "alone"]) == 0  # fmt: skip
    alone = json.loads((tmp_path / "alone" / "table.json").read_text())
    assert list(alone) == ["exp1H"] and alone["exp1H"]["spectral"] == again["exp1H"]["spectral"]
    card = json.loads(
        (tmp_path / "nets/paper004-hierarchical-low-reduced/network.json").read_text()
    )
    assert alone["exp1H"]["initial_network"] == card["config"]["init_from"]
    args = ["--networks", "missing", "--experiments", "1", "--out", "never"]
    assert run("paper004_experiments", load_demo("paper004_experiments").main, args) == 2
    assert not (tmp_path / "never").exists()
    _one_error_line(capsys, "--networks", "missing")


def test_paper004_sizes_pick_the_networks_it_needs(tmp_path, monkeypatch, capsys):
    """--sizes large: only the large sets' networks are looked for (the structured runs)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets").mkdir()
    main = load_demo("paper004_experiments").main
    args = ["--preset", "paper", "--networks", "nets", "--experiments", "2", "--out", "never"]
    assert run("paper004_experiments", main, args + ["--sizes", "large"]) == 2
    _one_error_line(capsys, "--networks", "paper004-moderate-large")
    assert run("paper004_experiments", main, args) == 2
    _one_error_line(capsys, "--networks", "paper004-moderate-small")
    assert run("paper004_experiments", main, args + ["--project-output", "--structured"]) == 2
    _one_error_line(capsys, "--project-output", "structured")
    assert not (tmp_path / "never").exists()


def test_one_line_names_the_type_of_an_error_from_inside_a_library():
    from plumbing.cli import one_line

    assert one_line(KeyError("done")) == "KeyError: 'done'"
    assert one_line(IndexError("pop from\n empty list")) == "IndexError: pop from empty list"
    assert one_line(ValueError("bad\n value")) == "bad value"  # ours: the message alone
    assert one_line(RuntimeError()) == "RuntimeError"


def test_paper004_report_orders_the_rows_and_draws_both_sizes_of_a_contrast(tmp_path, capsys):
    """--report: table.md and the per-contrast loss figure (Figs. 2, 4, 6) from table.json alone
    (the rows of two runs, one per core, arrive in any order)."""

    def row(size, epochs, val):
        history = {"epoch": list(range(1, epochs + 1)), "train_loss": [1.0] * epochs}
        history["val_loss"] = [val] * epochs
        return {
            "dataset": f"paper004-low-{size}", "epochs": epochs, "optimiser_steps": 10 * epochs,
            "train_loss": 1.0, "val_loss": val, "test_loss": val, "contrast": 12.0,
            "spectral": 0.4, "l2": 1e-3, "l2_relative": 0.03, "history": history,
        }  # fmt: skip

    table = {"exp1-large": row("large", 8, 2.0), "exp1-small": row("small", 30, 3.0)}
    (tmp_path / "table.json").write_text(json.dumps(table))
    main = load_demo("paper004_experiments").main
    assert run("paper004_experiments", main, ["--report", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "table.md").read_text()
    assert text.index("| exp1-small | paper004-low-small | 30 (300) |") < text.index(
        "| exp1-large | paper004-low-large | 8 (80) |"
    )
    assert (tmp_path / "exp1-loss.png").read_bytes()[:4] == b"\x89PNG"
    assert run("paper004_experiments", main, ["--report"]) == 2
    _one_error_line(capsys, "--report needs --out")
    # --beside: the structure-preserving network's large-set rows next to the plain ones
    stats = {
        "summary": {
            q: {"median": m, "q10": m, "q90": m, "n": 50}
            for q, m in (
                ("spectral", 0.1),
                ("l2", 1e-3),
                ("l2_relative", 0.02),
                ("row_sum_bias", 1e-4),
                ("row_sum_bias_pglod", 1e-15),
                ("spectral_relative", 0.01),
                ("local_relative", 0.01),
            )
        }
    }
    for r in table.values():
        r["statistics"] = stats
    (tmp_path / "table.json").write_text(json.dumps(table))
    other = {"exp1-large": {**row("large", 8, 0.5), "statistics": stats}}
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "table.json").write_text(json.dumps(other))
    argv = ["--report", "--out", str(tmp_path), "--beside", str(tmp_path / "s")]
    assert run("paper004_experiments", main, argv) == 0
    text = (tmp_path / "table.md").read_text()
    assert "exp1-large 2.00e+00 plain, 5.00e-01 structured" in text
    assert "| exp1-large structured | 50 |" in text
    # the large set's test loss 0.5 < 3 with the structured network: holds as with the plain 2
    assert (
        "| 5.5 | low contrast: the large set gives a lower test loss than the small one "
        "| holds | holds | test loss large vs small: 0.5 vs 3 (0.17x) |" in text
    )
    assert (tmp_path / "exp1-large-beside.png").read_bytes()[:4] == b"\x89PNG"
    assert markdown_tables(text) == (5, [])  # no '|' splits a cell
    assert run("paper004_experiments", main, ["--beside", "x", "--out", "y"]) == 2
    _one_error_line(capsys, "--beside goes with --report")
    assert not (tmp_path / "y").exists()


def test_paper004_report_checks_the_stall_on_the_small_run_taken_further(tmp_path, capsys):
    """--longer-history: Sec. 5.7's stall also on the exp3-small run taken to a higher cap (the
    history.json of its checkpoint folder), refused in one line if it is another run."""
    history = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "val_loss": [1.0, 0.6, 0.5]}
    row = {
        "dataset": "paper004-high-small", "epochs": 3, "optimiser_steps": 30, "train_loss": 0.3,
        "val_loss": 0.5, "test_loss": 0.5, "contrast": 1e3, "spectral": 0.4, "l2": 1e-3,
        "l2_relative": 0.03, "history": history,
    }  # fmt: skip
    (tmp_path / "table.json").write_text(json.dumps({"exp3-small": row}))
    longer = {
        **history,
        "train_loss": [1.0, 0.5, 0.3, 0.2, 0.1],
        "val_loss": [1.0, 0.6, 0.5, 0.45, 0.45],
    }
    (tmp_path / "longer.json").write_text(json.dumps(longer))
    main = load_demo("paper004_experiments").main
    argv = ["--report", "--out", str(tmp_path), "--longer-history", str(tmp_path / "longer.json")]
    assert run("paper004_experiments", main, argv) == 0
    text = (tmp_path / "table.md").read_text()
    # the row's 3 epochs: still falling; the 5 epochs: stalled from epoch 4, training −50 %
    assert "loss falls | does not hold | from epoch 3 " in text
    assert "(the same run to a 5-epoch cap) | holds | from epoch 4 " in text and "−50.0%" in text
    assert (tmp_path / "exp3-small-longer-loss.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "longer.json").write_text(
        json.dumps({**longer, "val_loss": [1.0, 0.7, 0.5, 0.4, 0.4]})
    )
    assert run("paper004_experiments", main, argv) == 2
    _one_error_line(capsys, "--longer-history", "not the row's run taken further (epoch 2")
    assert run("paper004_experiments", main, ["--longer-history", "x", "--out", "y"]) == 2
    _one_error_line(capsys, "--longer-history goes with --report")
