"""Validate before any output (issue 34, item 4): every command checks its whole argument set,
and a given network or dataset against the experiment's dimension and discretization, before
it writes anything. One test per command gives it an input it must refuse and checks the
contract (exit status 2, one ``error:`` line, no traceback) and that the output is untouched:
a folder that did not exist still does not, one that did holds the same files with the same
bytes. ``no_work`` makes the first expensive step of the commands raise, so that a check that
comes after the work fails its test quickly."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from mpi4py import MPI

import lod_fenicsx.corrector  # noqa: F401  (PETSc initialises collectively: on every rank, first)
from helpers import ROOT, load_demo, solve_argv
from nn_compress.dataset import GenerationConfig, generate
from nn_compress.training import TrainConfig, train
from plumbing.cli import run

# The tests' grid: N_H = 4 coarse cells per side, n = 2 fine cells each, ℓ = 1 (3-D: N_H = 2).
CFG2 = GenerationConfig(4, 2, 1, {"A1": 10})
CFG3 = GenerationConfig(2, 2, 1, {"A1": 10}, dim=3)


def _snapshot(path: pathlib.Path):
    """None for a missing path; else every file below it (relative name -> bytes) and every
    folder (-> None): the listing and the bytes."""
    if not path.exists():
        return None
    if path.is_file():
        return path.read_bytes()
    return {
        str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(path.rglob("*"))
    }


def _refused(capsys, prog, main, argv, comm=None) -> str:
    """Exit status 2 and one ``<prog>: error:`` line; no traceback. Returns the line."""
    try:
        code = run(prog, main, argv, comm=comm)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{prog}: error"), lines[0]
    return lines[0]


def _refused_command(argv, cwd) -> str:
    """The same for a script run as a program (its ``__main__``), in a fresh process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_COMM", "PMIX_", "PMI_", "OMPI_MCA_orte"))
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny 2-D and a tiny 3-D dataset, and a network trained one epoch on each."""
    tmp = tmp_path_factory.mktemp("validate-first")
    out = {}
    for dim, cfg in ((2, CFG2), (3, CFG3)):
        data = tmp / f"d{dim}.h5"
        generate(MPI.COMM_SELF, cfg, data, progress=False)
        folder = tmp / f"net{dim}"
        train(
            TrainConfig(
                dataset=str(data),
                checkpoint_dir=str(folder),
                epochs=1,
                batch_size=64,
                schedule=((0, 1e-3),),
                threads=1,
            ),
            log=lambda *a: None,
        )
        out[f"data{dim}"], out[f"net{dim}"] = data, folder / "last.pt"
    return out


# -- python3 -m lod_fenicsx solve ------------------------------------------------------------------
def test_solve_refuses_a_backend_the_boundary_does_not_fit_before_any_output(
    tmp_path, capsys, no_work
):
    """Neumann faces with the condensed backend (the petsc one only): refused by the corrector
    set-up, which came after the output's folder was made."""
    from lod_fenicsx.__main__ import main as solve_main

    np.save(tmp_path / "a.npy", np.random.default_rng(0).uniform(1, 5, (8, 8)))
    new = tmp_path / "new"
    argv = solve_argv(tmp_path / "a.npy", new / "r.h5", "--no-fine", "--xdmf", str(new / "x"))
    argv += ["--neumann", "y0", "--backend", "condensed"]
    line = _refused(capsys, "python3 -m lod_fenicsx", solve_main, argv, comm=MPI.COMM_WORLD)
    assert "condensed" in line and "petsc" in line
    assert not new.exists()


# -- demos/generate.py ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["another configuration", "backend of the other dimension"])
def test_generate_refuses_before_any_output(tmp_path, capsys, made, case):
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(made["data2"], folder / "x.h5")
    before = _snapshot(folder)
    argv = ["--preset", "lod3d-tiny", "--out", str(folder / "x.h5"), "--no-progress"]
    if case == "backend of the other dimension":
        argv = ["--preset", "lod3d-tiny", "--backend", "condensed", "--out", str(folder / "n.h5")]
    line = _refused(capsys, "generate", load_demo("generate").main, argv, comm=MPI.COMM_WORLD)
    assert ("another configuration" in line) == (case == "another configuration"), line
    assert _snapshot(folder) == before


# -- demos/train.py ------------------------------------------------------------------------------
def test_train_refuses_a_network_of_the_other_dimension_before_any_output(
    tmp_path, capsys, made, no_work
):
    """A 3-D initial network for a 2-D dataset: refused after the export and the checkpoint
    folders were made (and the latter locked)."""
    new = tmp_path / "new"
    argv = ["--dataset", str(made["data2"]), "--init-from", str(made["net3"])]
    argv += ["--checkpoint-dir", str(new / "c"), "--export", str(new / "e")]
    argv += ["--schedule", "0:1e-3", "--epochs", "1", "--batch-size", "64"]
    line = _refused(capsys, "train", load_demo("train").main, argv)
    assert "3-D network" in line and "2-D one is needed" in line
    assert not new.exists()


# -- demos/paper000_experiments.py ---------------------------------------------------------------
def test_paper000_refuses_a_network_of_the_other_dimension_before_any_output(
    tmp_path, capsys, made, monkeypatch, no_work
):
    """The audit's case: an experiment script given a network of the other dimension wrote its
    loss history and figure first, then refused."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    argv = ["--checkpoint", str(made["net3"]), "--out", "new/res", "--statistics", "0"]
    line = _refused(
        capsys,
        "paper000_experiments",
        load_demo("paper000_experiments").main,
        argv,
        comm=MPI.COMM_WORLD,
    )
    assert "3-D network" in line and "--checkpoint" in line
    assert not (tmp_path / "new").exists() and not (tmp_path / "state").exists()


# -- demos/paper004_experiments.py ---------------------------------------------------------------
def test_paper004_refuses_a_dataset_of_another_configuration_before_any_output(
    tmp_path, capsys, made, monkeypatch, no_work
):
    """The dataset file of a run holds another configuration: generate refused it only when
    that run began, after the output folder (and the rows before it)."""
    import nn_compress.dataset as dataset
    import nn_compress.pipeline as pipeline

    real = dataset.presets
    tiny = {"paper004-low-reduced": GenerationConfig(4, 2, 1, {"lognormal-low": 10})}
    for module in (dataset, pipeline):  # the reduced preset on the tests' grid
        monkeypatch.setattr(module, "presets", lambda: {**real(), **tiny})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    (tmp_path / "state" / "data").mkdir(parents=True)
    shutil.copy(made["data2"], tmp_path / "state" / "data" / "paper004-low-reduced.h5")
    before = _snapshot(tmp_path / "state")
    argv = ["--base-network", str(made["net2"]), "--experiments", "1", "--out", "new/res"]
    argv += ["--export", "new/nets", "--statistics", "0"]
    demo = load_demo("paper004_experiments")
    line = _refused(capsys, "paper004_experiments", demo.main, argv, comm=MPI.COMM_WORLD)
    assert "paper004-low-reduced.h5" in line and "another configuration" in line
    assert not (tmp_path / "new").exists() and _snapshot(tmp_path / "state") == before


def test_paper004_refuses_a_checkpoint_folder_of_another_run_before_any_output(
    tmp_path, capsys, made, monkeypatch, no_work
):
    """The network folder of a run holds a training of other settings: refused only when that
    training began, after the output folder and the rows before it; now before any output."""
    import nn_compress.dataset as dataset
    import nn_compress.pipeline as pipeline

    real = dataset.presets
    for module in (dataset, pipeline):  # the reduced preset on the tests' grid, as made["data2"]
        monkeypatch.setattr(module, "presets", lambda: {**real(), "paper004-low-reduced": CFG2})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    (tmp_path / "state" / "data").mkdir(parents=True)
    shutil.copy(made["data2"], tmp_path / "state" / "data" / "paper004-low-reduced.h5")
    base = str(made["net2"])
    folder = pipeline.checkpoint_dir(
        pipeline.network_name("paper004-low-reduced", False, pipeline.base_tag(base))
    )
    folder.mkdir(parents=True)
    shutil.copy(made["net2"], folder / "last.pt")  # one epoch of another schedule and dataset
    before = _snapshot(tmp_path / "state")
    argv = ["--base-network", base, "--experiments", "1", "--out", "new/res", "--statistics", "0"]
    demo = load_demo("paper004_experiments")
    line = _refused(capsys, "paper004_experiments", demo.main, argv, comm=MPI.COMM_WORLD)
    assert "last.pt" in line and "another configuration" in line and "schedule" in line
    assert not (tmp_path / "new").exists() and _snapshot(tmp_path / "state") == before


def test_paper004_hierarchical_refuses_to_start_without_its_large_set_network(
    tmp_path, capsys, made, monkeypatch, no_work
):
    """1-H starts from Exp. 1's large-set network (Sec. 6); without it the run trained from the
    paper-000 network instead, silently. Now refused, unless Exp. 1 on that set runs first."""
    import nn_compress.dataset as dataset
    import nn_compress.pipeline as pipeline

    real = dataset.presets
    for module in (dataset, pipeline):
        monkeypatch.setattr(module, "presets", lambda: {**real(), "paper004-low-reduced": CFG2})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    argv = ["--base-network", str(made["net2"]), "--out", "new/res", "--statistics", "0"]
    demo = load_demo("paper004_experiments")
    line = _refused(
        capsys, "paper004_experiments", demo.main, argv + ["--experiments", "1H"], MPI.COMM_WORLD
    )
    assert "paper004-low-reduced" in line and "--experiments 1 first" in line
    assert not (tmp_path / "new").exists() and not (tmp_path / "state").exists()
    with pytest.raises(AssertionError, match="work started"):  # past the checks: Exp. 1 first
        demo.main(argv + ["--experiments", "1", "1H"])


# -- demos/nnlod_3d.py ---------------------------------------------------------------------------
def test_nnlod_3d_refuses_a_network_of_the_other_dimension_before_any_output(
    tmp_path, capsys, made, monkeypatch, no_work
):
    monkeypatch.chdir(tmp_path)
    argv = ["--preset", "lod3d-tiny", "--checkpoint", str(made["net2"]), "--out", "new/res"]
    argv += ["--statistics", "0"]
    demo = load_demo("nnlod_3d")
    line = _refused(capsys, "nnlod_3d", demo.main, argv, comm=MPI.COMM_WORLD)
    assert "2-D network" in line and "3-D one is needed" in line
    assert not (tmp_path / "new").exists()


# -- demos/nnlod_gpu.py --------------------------------------------------------------------------
def test_nnlod_gpu_refuses_an_initial_network_of_the_other_dimension_before_any_output(
    tmp_path, capsys, made, monkeypatch, no_work
):
    """Found only when the training began: after the output folder, the smoke run and the
    generation; the timings were written even so."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    argv = ["--preset", "small", "--device", "cpu", "--skip-smoke", "--out", "new/o"]
    argv += ["--init-from", str(made["net3"])]
    line = _refused(capsys, "nnlod_gpu", load_demo("nnlod_gpu").main, argv)
    assert "3-D network" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- demos/nnlod_structure_comparison.py ---------------------------------------------------------
def test_structure_comparison_refuses_tables_without_a_common_experiment_before_any_output(
    tmp_path, capsys
):
    record = {"summary": {}, "values": {}}
    for label, key in (("plain", "exp1"), ("structured", "exp3")):
        (tmp_path / label).mkdir()
        (tmp_path / label / "table.json").write_text(json.dumps({"statistics": {key: record}}))
    argv = ["--plain", str(tmp_path / "plain"), "--structured", str(tmp_path / "structured")]
    argv += ["--out", str(tmp_path / "new" / "cmp")]
    demo = load_demo("nnlod_structure_comparison")
    line = _refused(capsys, "nnlod_structure_comparison", demo.main, argv)
    assert "share no experiment" in line
    assert not (tmp_path / "new").exists()


# -- demos/rev_upscaling.py ----------------------------------------------------------------------
def test_rev_upscaling_refuses_before_any_output(tmp_path, capsys, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    argv = ["--preset", "quick", "--quadrature-degree", "-1", "--output-dir", "new/r"]
    demo = load_demo("rev_upscaling")
    line = _refused(capsys, "rev_upscaling", demo.main, argv, comm=MPI.COMM_WORLD)
    assert "--quadrature-degree -1" in line
    assert not (tmp_path / "new").exists()


# -- demos/upscaled_permeability.py --------------------------------------------------------------
def test_upscaled_permeability_refuses_samples_of_another_grid_before_any_output(
    tmp_path, capsys, no_work
):
    """The samples of an earlier run on N_H = 8 were taken as done for a run on N_H = 4 and
    mixed into its table."""
    folder = tmp_path / "k"
    folder.mkdir()
    records = [
        dict(
            family=f"lognormal-{c}",
            dim=2,
            index=0,
            n_coarse=8,
            n_sub=2,
            contrast=10.0,
            fine=[1.0, 1.0],
            fine_s=0.1,
            pglod_1=[1.01, 1.02],
            pglod_1_s=0.1,
            rev=[1.1, 1.1],
            rev_s=0.1,
        )
        for c in ("low", "moderate", "high")
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    before = _snapshot(folder)
    argv = ["--samples", "1", "--samples-3d", "0", "--n-coarse", "4", "--n-sub", "2"]
    argv += ["--ells", "1", "--out", str(folder)]
    prog = "demos/upscaled_permeability.py"
    line = _refused(capsys, prog, load_demo("upscaled_permeability").main, argv)
    assert "samples.jsonl" in line and "N_H = 8" in line and "N_H = 4" in line
    assert _snapshot(folder) == before


# -- demos/hybrid_pinn_1d.py and hybrid_pinn_1d_diagnostics.py -----------------------------------
def _other_run(folder: pathlib.Path, method: str, seeds) -> None:
    """A checkpoint of another run (tau_2 = 3, not Table 1's) in ``folder``."""
    from hybrid_pinn.training import Trainer, paper_config

    config = paper_config(
        16, method, seeds=tuple(seeds), iterations=2, tau2=3.0, solver="scipy",
        checkpoint_dir=str(folder),
    )  # fmt: skip
    Trainer(config).save_checkpoint()


def test_hybrid_refuses_a_folder_of_another_run_before_the_first_run_writes(
    tmp_path, capsys, monkeypatch, no_work
):
    """The second method's folder holds another run: refused only when that run began, after
    the first had written its figure and history."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "ckpt"
    _other_run(root / "eps16_hybrid_fourier_s0", "hybrid", (0,))
    before = _snapshot(root)
    argv = ["--preset", "quick", "--eps", "16", "--seeds", "0", "--methods", "pinn", "hybrid"]
    argv += ["--iterations", "2", "--skip-table-1", "--solver", "scipy"]
    argv += ["--checkpoint-root", str(root), "--output-dir", "new/o"]
    line = _refused(capsys, "hybrid_pinn_1d", load_demo("hybrid_pinn_1d").main, argv)
    assert "eps16_hybrid_fourier_s0" in line and "different run" in line and "tau2" in line
    assert not (tmp_path / "new").exists() and _snapshot(root) == before


def test_hybrid_diagnostics_refuse_a_folder_of_another_run_before_the_first_cell_writes(
    tmp_path, capsys, monkeypatch, no_work
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path / "state"))
    root = tmp_path / "state" / "checkpoints" / "hybrid"
    _other_run(root / "eps16_hybrid_fourier_s0", "hybrid", (0,))
    before = _snapshot(tmp_path / "state")
    argv = ["factors", "--cells", "base-pinn", "base-hybrid", "--seeds", "0"]
    argv += ["--iterations", "2", "--output-dir", "new/o"]
    demo = load_demo("hybrid_pinn_1d_diagnostics")
    line = _refused(capsys, "hybrid_pinn_1d_diagnostics", demo.main, argv)
    assert "eps16_hybrid_fourier_s0" in line and "different run" in line
    assert not (tmp_path / "new").exists() and _snapshot(tmp_path / "state") == before


# -- demos/calibrate_contrast.py and plot_fields.py (run as programs) ----------------------------
def test_calibrate_contrast_refuses_before_any_output(tmp_path):
    """No unit-variance sample: a median of nothing, σ² = nan written into the table (or a
    traceback), now one line before the folder is made."""
    argv = [str(ROOT / "demos" / "calibrate_contrast.py"), "--samples", "0", "--check", "0"]
    line = _refused_command(argv + ["--n-fine", "8", "--out", "new/c"], cwd=tmp_path)
    assert line.startswith("calibrate_contrast: error: --samples 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_plot_fields_refuses_a_grid_the_families_do_not_fit_before_any_output(tmp_path):
    argv = [str(ROOT / "demos" / "plot_fields.py"), "--n-fine", "12", "--out", "new/g.png"]
    line = _refused_command(argv, cwd=tmp_path)
    assert line.startswith("plot_fields: error: --n-fine 12") and "power of two" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_compare_results_refuses_a_bad_table_or_tolerance_before_any_output(tmp_path, capsys):
    good = tmp_path / "a.json"
    good.write_text('{"exp1-large": {"l2": 1.0}}')
    (tmp_path / "b.json").write_text("[1, 2]")
    main = load_demo("compare_results").main
    out = ["--out", str(tmp_path / "new" / "cmp.md")]
    line = _refused(capsys, "compare_results", main, [str(good), str(tmp_path / "b.json"), *out])
    assert "b.json" in line
    line = _refused(capsys, "compare_results", main, [str(good), str(good), "--tolerance", "2"])
    assert "--tolerance 2" in line
    assert not (tmp_path / "new").exists()


# -- demos/status.py ------------------------------------------------------------------------------
def test_status_refuses_a_report_file_that_is_a_folder_before_any_output(tmp_path, capsys):
    folder = tmp_path / "report.md"
    (folder / "inside").mkdir(parents=True)
    before = _snapshot(tmp_path)
    line = _refused(capsys, "status", load_demo("status").main, ["--write", str(folder)])
    assert "report.md" in line and "is a folder" in line
    assert _snapshot(tmp_path) == before


def test_every_command_with_an_output_has_a_test_here():
    tested = {
        "generate", "train", "paper000_experiments", "paper004_experiments", "nnlod_3d",
        "nnlod_gpu", "nnlod_structure_comparison", "rev_upscaling", "upscaled_permeability",
        "hybrid_pinn_1d", "hybrid_pinn_1d_diagnostics", "calibrate_contrast", "plot_fields",
        "status", "compare_results",
    }  # fmt: skip
    assert {p.stem for p in (ROOT / "demos").glob("*.py")} == tested
