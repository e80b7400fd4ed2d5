"""demos/hybrid_pinn_1d.py as a user meets it: bad input gets one line, 0 is never 'the default',
errors exit non-zero without a traceback, and output names keep subset runs apart (issue 12)."""

import importlib.util
import json
import pathlib

import pytest

from hybrid_pinn.training import Trainer, paper_config
from plumbing.cli import run

DEMO = pathlib.Path(__file__).resolve().parents[1] / "demos" / "hybrid_pinn_1d.py"
TINY = ["--preset", "quick", "--iterations", "2", "--methods", "pinn", "--skip-table-1"]


def _demo():
    spec = importlib.util.spec_from_file_location("hybrid_pinn_1d", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        _demo().main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("eps", ["0", "-16", "17", "x"])
def test_eps_outside_table_1_is_one_line(eps, capsys):
    assert "is not a Table 1 row; use 1/eps = 16, 48, 64" in _refused(["--eps", eps], capsys)


@pytest.mark.parametrize(
    "option, message",
    [
        ("--iterations", "--iterations must be >= 1, got 0"),
        ("--collocation", "--collocation (M) must be >= 2, got 0"),
        ("--features", "--features (m) must be >= 1, got 0"),
    ],
)
def test_zero_is_refused_not_read_as_the_default(option, message, capsys):
    assert message in _refused([option, "0"], capsys)


def test_features_option_sets_m_in_the_run_and_its_name():
    demo = _demo()
    args = demo.parse_args(["--features", "400"])
    assert demo.overrides_of(args, "pinn") == {"n_features": 400}
    assert demo.run_name(48, "pinn", "fourier", (0, 1), {"n_features": 400}).endswith(
        "_n_features-400"
    )


def test_the_readings_and_the_tau2_switch_reach_the_run_and_its_name():
    demo = _demo()
    argv = ["--pinn-quadrature", "sum", "--compression", "exact", "--tau2-switch", "14500", "1.79"]
    args = demo.parse_args(argv)
    overrides = demo.overrides_of(args, "hybrid")
    assert overrides == dict(pinn_quadrature="sum", compression="exact", tau2_switch=(14500, 1.79))
    assert demo.overrides_of(args, "pinn") == dict(pinn_quadrature="sum", compression="exact")
    assert demo.overrides_tag(demo.names_of(overrides)).endswith("_tau2_switch-14500-1.79")
    tau2 = demo.overrides_of(demo.parse_args(["--tau2", "1"]), "hybrid")
    assert demo.names_of(tau2) == {"tau2": 1.0}


def test_output_names_carry_eps_seeds_and_methods(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))  # checkpoints and data under tmp_path
    demo = _demo()
    assert demo.main(TINY + ["--seeds", "0", "--output-dir", "out"]) == 0
    assert demo.main(TINY + ["--seeds", "1", "--output-dir", "out"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("*.md"))
    assert names == [
        "hybrid_pinn_1d_quick_eps16_s0_pinn_it2.md",
        "hybrid_pinn_1d_quick_eps16_s1_pinn_it2.md",
    ]
    assert (tmp_path / "checkpoints" / "hybrid" / "eps16_pinn_fourier_s0" / "last.pt").exists()
    assert len(list((tmp_path / "out").glob("fig_eps16_pinn_fourier_s1_it2.png"))) == 1
    history = (tmp_path / "out" / "history_eps16_pinn_fourier_s1_it2.csv").read_text().splitlines()
    assert history[0] == "iteration,wall_time,rel_l2_s1,k_tilde_s1" and len(history) >= 2


def test_run_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    """A checkpoint folder that holds another configuration: exit status 2 and
    one line naming it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))  # checkpoints and data under tmp_path
    folder = tmp_path / "checkpoints" / "hybrid" / "eps16_pinn_fourier_s0"
    other = paper_config(
        16, "pinn", seeds=(0,), iterations=2, log_every=100, tau2=3.0, checkpoint_dir=str(folder)
    )
    Trainer(other).save_checkpoint()
    demo = _demo()
    assert run("hybrid_pinn_1d", demo.main, TINY + ["--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        len(err.strip().splitlines()) == 1
        and err.startswith("hybrid_pinn_1d: error: ")
        and "tau2: 3.0 there, 10.0 now" in err
    )
    with pytest.raises(ValueError, match="holds a different run"):
        demo.main(TINY + ["--seeds", "0"])  # the demo itself raises; cli.run makes the line
    assert run("hybrid_pinn_1d", demo.main, TINY + ["--seeds", "0", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_gpu_script_runs_without_dolfinx_petsc_or_mpi(tmp_path):
    """env/gpu-hybrid.sh as the GPU machine runs it (no DOLFINx, PETSc or MPI importable), here on
    the CPU at 3 iterations: the smoke run, two Table 2 rows (an EXTRA option for both, m = 20, and
    one row's own option, m = 24), one tar per run's checkpoint and one of the logs and tables,
    which the CPU demo then reads back (the run continues under the PETSc solver)."""
    import os
    import subprocess
    import tarfile

    from helpers import FENICS_AND_MPI, ROOT

    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        f"import sys\nfor _name in {FENICS_AND_MPI!r}:\n    sys.modules[_name] = None\n"
    )
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    env = dict(
        os.environ,
        OUT=str(out),
        WORK=str(work),
        DEVICE="cpu",
        RUNS="16 hybrid,16 pinn --features 24",
        ITERATIONS="3",
        EXTRA="--features 20",
        SMOKE_ITERATIONS="2",
        PACK_EVERY="1",
        PYTHONPATH=f"{blocker}:{ROOT}",
    )
    for name in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", str(ROOT / "env" / "gpu-hybrid.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    hybrid, pinn = (
        "eps16_hybrid_fourier_s0-1-2_n_features-20",
        "eps16_pinn_fourier_s0-1-2_n_features-24",
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["gpu.txt", "logs.tar", "smoke.log", f"{hybrid}.tar", f"{pinn}.tar"]
    )
    for name in (hybrid, pinn):
        with tarfile.open(out / f"{name}.tar") as tar:
            assert tar.getnames() == [f"checkpoints/{name}", f"checkpoints/{name}/last.pt"]
            tar.extractall(tmp_path / "back", filter="data")
    with tarfile.open(out / "logs.tar") as tar:
        names = tar.getnames()
        assert {"./table2_16_hybrid.log", "./table2_16_pinn_features_24.log"} <= set(names)
        assert not any("smoke" in n or "checkpoints" in n for n in names)
    trainer = Trainer.resume_or_start(
        paper_config(
            16,
            "hybrid",
            seeds=(0, 1, 2),
            iterations=3,
            n_features=20,
            checkpoint_dir=str(
                tmp_path / "back/checkpoints/eps16_hybrid_fourier_s0-1-2_n_features-20"
            ),
        )
    )
    assert trainer.iteration == 3 and trainer.config.solver == "petsc"
    assert len(trainer.history[-1]["rel_l2"]) == 3


def test_the_comparison_is_written_once_both_methods_have_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))
    demo = _demo()
    args = ["--preset", "quick", "--iterations", "2", "--skip-table-1", "--seeds", "0"]
    assert demo.main(args + ["--methods", "pinn", "--output-dir", "out"]) == 0
    assert not list((tmp_path / "out").glob("compare_*"))
    assert demo.main(args + ["--methods", "hybrid", "--output-dir", "out"]) == 0
    result = json.loads((tmp_path / "out" / "compare_eps16_s0.json").read_text())
    assert result["files"] == {
        "pinn": "history_eps16_pinn_fourier_s0_it2.csv",
        "hybrid": "history_eps16_hybrid_fourier_s0_it2.csv",
    }
    assert (result["pinn_iterations"], result["hybrid_iterations"]) == (2, 2)
    assert "| 0 |" in (tmp_path / "out" / "compare_eps16_s0.md").read_text()
