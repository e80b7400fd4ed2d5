"""One validation pass before any work, for every command (issue 21): a user's mistake ends in
exit status 2 and one line ``<program>: error: <what, where, what to do>``, with no traceback,
nothing computed and nothing lost. ``no_work`` makes the first expensive step of every command
raise an AssertionError (a traceback), so a check that comes after the work fails its test."""

import h5py
import numpy as np
import pytest
import torch
from mpi4py import MPI

from helpers import boom, load_demo, solve_argv
from plumbing.cli import run
from nn_compress.dataset import GenerationConfig, SerialComm, generate


def _refused(capsys, prog, main, argv, *fragments, comm=None) -> str:
    """Exit status 2 and one error line holding ``fragments``; no traceback."""
    try:
        code = run(prog, main, argv, comm=comm)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error" in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def blocker(tmp_path):
    """A file where a folder should be: nothing can be written below it."""
    path = tmp_path / "blocker"
    path.write_text("")
    return path


# -- python3 -m lod_fenicsx solve ------------------------------------------------------------------
SOLVE = "python3 -m lod_fenicsx"


def _solve(capsys, tmp_path, coefficient, *extra, fragments=(), out=None):
    from lod_fenicsx.__main__ import solve, _parser

    out = out or tmp_path / "r.h5"
    argv = solve_argv(coefficient, out, *extra)
    line = _refused(
        capsys,
        SOLVE,
        lambda a: solve(_parser().parse_args(a)),
        argv,
        *fragments,
        comm=MPI.COMM_WORLD,
    )
    assert line.startswith(f"{SOLVE}: error: ")
    assert not (tmp_path / "r.h5").exists()
    return line


def _coefficient(tmp_path, values=None, name="a.npy"):
    a = np.random.default_rng(0).uniform(1, 5, (8, 8)) if values is None else values
    np.save(tmp_path / name, a)
    return tmp_path / name


def test_solve_checks_the_xdmf_folder_before_solving(tmp_path, capsys, no_work, blocker):
    a = _coefficient(tmp_path)
    _solve(capsys, tmp_path, a, "--xdmf", str(blocker / "x"), fragments=["--xdmf", "blocker/x"])


def test_solve_refuses_an_output_that_is_a_folder(tmp_path, capsys, no_work):
    (tmp_path / "folder.h5").mkdir()
    a = _coefficient(tmp_path)
    _solve(capsys, tmp_path, a, out=tmp_path / "folder.h5", fragments=["folder.h5", "a folder"])


def test_solve_refuses_an_unknown_rhs_before_solving(tmp_path, capsys, no_work):
    a = _coefficient(tmp_path)
    _solve(capsys, tmp_path, a, "--rhs", "nope", fragments=["unknown right-hand side 'nope'"])


@pytest.mark.parametrize("device", ["tpu", "cuda:x"])
def test_solve_refuses_a_device_torch_does_not_know(tmp_path, capsys, no_work, device):
    a = _coefficient(tmp_path)
    _solve(
        capsys,
        tmp_path,
        a,
        "--backend",
        "torch",
        "--device",
        device,
        fragments=[f"device {device!r} (--device)", "cpu"],
    )


def test_solve_names_an_empty_npy_file(tmp_path, capsys, no_work):
    (tmp_path / "a.npy").write_bytes(b"")
    _solve(capsys, tmp_path, tmp_path / "a.npy", fragments=["a.npy", "empty"])


def test_solve_names_an_npy_file_holding_an_empty_array(tmp_path, capsys, no_work):
    a = _coefficient(tmp_path, np.zeros((0,)))
    _solve(capsys, tmp_path, a, fragments=["shape (0,)", "expected (8, 8)"])


def test_solve_names_a_truncated_hdf5_coefficient(tmp_path, capsys, no_work):
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["coefficient"] = np.random.default_rng(0).uniform(1, 5, (64, 64))
    data = (tmp_path / "c.h5").read_bytes()
    (tmp_path / "c.h5").write_bytes(data[: len(data) // 2])
    _solve(capsys, tmp_path, tmp_path / "c.h5", fragments=["c.h5", "truncated"])


@pytest.mark.parametrize(
    "scale, fragment", [(1e300, "1e+30]"), (1e-300, "[1e-30"), (1e40, "rescale")]
)
def test_solve_refuses_a_coefficient_outside_the_representable_range(
    tmp_path, capsys, no_work, scale, fragment
):
    a = _coefficient(tmp_path, np.random.default_rng(0).uniform(1, 5, (8, 8)) * scale)
    _solve(capsys, tmp_path, a, fragments=["coefficient", fragment])


def test_solve_refuses_a_contrast_beyond_float64(tmp_path, capsys, no_work):
    a = np.ones((8, 8))
    a[2, 3] = 1e16
    _solve(capsys, tmp_path, _coefficient(tmp_path, a), fragments=["contrast", "1e+16"])


def test_solve_names_a_nan_in_the_coefficient(tmp_path, capsys, no_work):
    a = np.ones((8, 8))
    a[1, 2] = np.nan
    _solve(capsys, tmp_path, _coefficient(tmp_path, a), fragments=["non-finite", "[1, 2]"])


def test_coefficients_inside_the_range_still_solve(tmp_path):
    """The range check refuses nothing the solvers handle: 1e-30 and 1e30 times A, contrast 1e12."""
    from lod_fenicsx.coefficient import validate_coefficient

    a = np.random.default_rng(0).uniform(1, 5, (8, 8))
    for values in (a * 1e-30 * 1.01, a * 1e30 / 5.01, np.where(a > 3, 1e12, 1.0)):
        assert validate_coefficient(values, 4, 2).shape == (8, 8)


# -- demos/generate.py -----------------------------------------------------------------------------
def _generate(capsys, tmp_path, *argv, fragments=()):
    line = _refused(capsys, "generate", load_demo("generate").main, list(argv), *fragments)
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob("*.creating*"))
    return line


def test_generate_refuses_a_device_torch_does_not_know(tmp_path, capsys):
    out = str(tmp_path / "g.h5")
    _generate(
        capsys,
        tmp_path,
        *("--preset", "small", "--backend", "torch", "--device", "tpu", "--out", out),
        fragments=["generate: error: device 'tpu' (--device)", "cpu"],
    )


def test_generate_refuses_an_output_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "g.h5").mkdir()
    line = _refused(
        capsys,
        "generate",
        load_demo("generate").main,
        ["--preset", "small", "--out", str(tmp_path / "g.h5")],
        "g.h5",
        "a folder",
    )
    assert line.startswith("generate: error:")


@pytest.mark.parametrize(
    "option, value", [("--batch-size", "0"), ("--samples-per-family", "0"), ("--base-seed", "-1")]
)
def test_generate_refuses_numbers_outside_their_range(tmp_path, capsys, option, value):
    _generate(
        capsys,
        tmp_path,
        *("--preset", "small", "--backend", "torch", "--out", str(tmp_path / "g.h5")),
        option,
        value,
        fragments=[f"{option} {value}: must be at least"],
    )


def test_generate_never_replaces_a_file_another_run_made_meanwhile(tmp_path):
    """The race of two runs on one output: the second finds no file, the first creates it and
    starts writing, then the second must not replace it (the first's work would be lost)."""
    from nn_compress.dataset import default_sample_fn, read_info

    cfg = GenerationConfig(4, 2, 1, {"A1": 4})
    path = tmp_path / "d.h5"
    raced = []

    def racing_sample(*args):
        if not raced:  # the other run wins the race: its file appears now, with work in it
            raced.append(True)
            generate(SerialComm(), cfg, path, progress=False)
            raced.append(read_info(path).attrs["file_id"])
        return default_sample_fn(*args)

    summary = generate(SerialComm(), cfg, path, sample_fn=racing_sample, progress=False)
    assert read_info(path).attrs["file_id"] == raced[1]  # the first file, never replaced
    assert summary["computed"] == 0  # its finished samples are kept
    assert not list(tmp_path.glob("*.creating*"))


# -- demos/train.py --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("validation") / "tiny.h5"
    generate(MPI.COMM_SELF, GenerationConfig(4, 2, 1, {"A1": 10}), path, progress=False)
    return path


def _train(capsys, tmp_path, dataset, *extra, fragments=()):
    argv = ["--dataset", str(dataset), "--checkpoint-dir", str(tmp_path / "c")]
    argv += ["--schedule", "0:1e-3", "--epochs", "1", "--batch-size", "64", *extra]
    line = _refused(capsys, "train", load_demo("train").main, argv, *fragments)
    assert not (tmp_path / "c" / "last.pt").exists()
    return line


def test_train_checks_the_export_folder_before_training(
    tmp_path, capsys, dataset, no_work, blocker
):
    _train(
        capsys,
        tmp_path,
        dataset,
        "--export",
        str(blocker / "net"),
        fragments=["train: error:", "export folder", "blocker/net"],
    )


def test_train_refuses_a_dataset_with_an_empty_test_split_before_training(
    tmp_path, capsys, no_work
):
    path = tmp_path / "five.h5"  # 5 samples: 4 train, 1 validation, 0 test (80/10/10 half up)
    generate(SerialComm(), GenerationConfig(4, 2, 1, {"A1": 5}), path, progress=False)
    _train(capsys, tmp_path, path, fragments=["five.h5", "the test split is empty"])


def test_train_refuses_a_device_torch_does_not_know(tmp_path, capsys, dataset, no_work):
    _train(
        capsys,
        tmp_path,
        dataset,
        "--device",
        "tpu",
        fragments=["train: error: device 'tpu' (--device)"],
    )


@pytest.mark.parametrize("value", ["0", "-2"])
def test_train_max_per_family_zero_is_an_error_not_the_default(
    tmp_path, capsys, dataset, no_work, value
):
    _train(
        capsys,
        tmp_path,
        dataset,
        "--max-per-family",
        value,
        fragments=[f"--max-per-family {value}: must be at least 1"],
    )


def test_train_names_a_truncated_dataset(tmp_path, capsys, dataset, no_work):
    data = dataset.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    _train(capsys, tmp_path, tmp_path / "cut.h5", fragments=["cut.h5", "truncated"])


@pytest.mark.parametrize("schedule", ["0:-1e-3", "0:nan", "0:1e-3,2:0"])
def test_train_refuses_step_sizes_that_are_not_positive(
    tmp_path, capsys, dataset, no_work, schedule
):
    _train(
        capsys,
        tmp_path,
        dataset,
        "--schedule",
        schedule,
        fragments=[f"schedule {schedule!r}", "positive"],
    )


def test_train_refuses_unknown_families_before_training(tmp_path, capsys, dataset, no_work):
    _train(capsys, tmp_path, dataset, "--families", "A7", fragments=["tiny.h5", "['A7']"])


def test_train_refuses_a_missing_initial_network_before_training(
    tmp_path, capsys, dataset, no_work
):
    _train(
        capsys,
        tmp_path,
        dataset,
        "--init-from",
        str(tmp_path / "none.pt"),
        fragments=["none.pt does not exist"],
    )


def test_train_refuses_an_initial_network_of_other_sizes_before_training(
    tmp_path, capsys, dataset, no_work
):
    from nn_compress.network import CompressionNetwork, layer_sizes

    sizes = layer_sizes(4, 1)
    torch.save(
        {"layer_sizes": sizes, "model": CompressionNetwork(sizes).state_dict()}, tmp_path / "n4.pt"
    )
    _train(
        capsys,
        tmp_path,
        dataset,
        "--init-from",
        str(tmp_path / "n4.pt"),
        fragments=["n4.pt", "do not match"],
    )


def test_train_checks_the_checkpoint_folder_before_reading_data(
    tmp_path, capsys, dataset, no_work, blocker
):
    argv = ["--dataset", str(dataset), "--checkpoint-dir", str(blocker / "c")]
    argv += ["--schedule", "0:1e-3", "--epochs", "1"]
    _refused(capsys, "train", load_demo("train").main, argv, "checkpoint folder", "blocker/c")


# -- demos/nnlod_gpu.py ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--epochs", "0"], ["--epochs 0: must be at least 1"]),
        (["--epochs", "-1"], ["--epochs -1: must be at least 1"]),
        (["--device", "tpu"], ["device 'tpu' (--device)"]),
        (["--init-from", "missing.pt"], ["missing.pt does not exist"]),
        (["--out", "blocker/o"], ["cannot write", "blocker/o"]),
    ],
)
def test_nnlod_gpu_checks_everything_before_the_smoke_run(
    tmp_path, capsys, monkeypatch, no_work, blocker, extra, fragments
):
    monkeypatch.chdir(tmp_path)
    argv = ["--preset", "small", "--device", "cpu", "--out", "o", *extra]
    line = _refused(capsys, "nnlod_gpu", load_demo("nnlod_gpu").main, argv, *fragments)
    assert line.startswith("nnlod_gpu: error:")
    assert not (tmp_path / "data").exists()


# -- demos/paper000_experiments.py and paper004_experiments.py ------------------------------------
@pytest.mark.parametrize(
    "demo, extra, fragments",
    [
        ("paper004_experiments", ["--mc-samples", "0"], ["--mc-samples 0: must be at least 1"]),
        ("paper004_experiments", ["--mc-samples", "-3"], ["--mc-samples -3: must be at least 1"]),
        ("paper004_experiments", ["--statistics", "-1"], ["--statistics -1: must be at least 0"]),
        ("paper004_experiments", ["--threads", "0"], ["--threads 0: must be at least 1"]),
        ("paper004_experiments", ["--out", "blocker/r"], ["output folder", "blocker/r"]),
        ("paper000_experiments", ["--statistics", "-2"], ["--statistics -2: must be at least 0"]),
        ("paper000_experiments", ["--threads", "0"], ["--threads 0: must be at least 1"]),
        ("paper000_experiments", ["--out", "blocker/r"], ["output folder", "blocker/r"]),
    ],
)
def test_experiments_check_their_options_before_any_data_or_training(
    tmp_path, capsys, monkeypatch, no_work, blocker, demo, extra, fragments
):
    from nn_compress.network import CompressionNetwork, layer_sizes

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))
    sizes = layer_sizes(8, 2)
    torch.save({"layer_sizes": sizes, "model": CompressionNetwork(sizes).state_dict()}, "base.pt")
    argv = ["--base-network", "base.pt"] if demo.startswith("paper004") else []
    _refused(capsys, demo, load_demo(demo).main, argv + extra, *fragments, comm=MPI.COMM_WORLD)
    assert not (tmp_path / "data").exists() and not (tmp_path / "checkpoints").exists()


# -- demos/rev_upscaling.py ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--quadrature-degree", "-1"], ["--quadrature-degree -1: must be at least 0"]),
        (["--output-dir", "blocker/r"], ["output folder", "blocker/r"]),
    ],
)
def test_rev_upscaling_checks_its_options_first(
    tmp_path, capsys, monkeypatch, no_work, blocker, extra, fragments
):
    monkeypatch.chdir(tmp_path)
    line = _refused(
        capsys,
        "rev_upscaling",
        load_demo("rev_upscaling").main,
        ["--preset", "quick", *extra],
        *fragments,
        comm=MPI.COMM_WORLD,
    )
    assert line.startswith("rev_upscaling: error:")


# -- demos/hybrid_pinn_1d.py and hybrid_pinn_1d_diagnostics.py -------------------------------------
HYBRID = ["--preset", "quick", "--iterations", "2", "--methods", "pinn", "--skip-table-1"]


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--device", "tpu"], ["device 'tpu' (--device)"]),
        (["--output-dir", "blocker/o"], ["output folder", "blocker/o"]),
        (["--checkpoint-root", "blocker/c"], ["checkpoint folder", "blocker/c"]),
    ],
)
def test_hybrid_checks_device_and_outputs_before_training(
    tmp_path, capsys, monkeypatch, no_work, blocker, extra, fragments
):
    monkeypatch.chdir(tmp_path)
    demo = load_demo("hybrid_pinn_1d")
    line = _refused(capsys, "hybrid_pinn_1d", demo.main, HYBRID + extra, *fragments)
    assert line.startswith("hybrid_pinn_1d: error:")


def test_hybrid_run_errors_carry_the_program_name(tmp_path, capsys, monkeypatch):
    from hybrid_pinn.training import Trainer, paper_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NH_STATE", str(tmp_path))
    folder = tmp_path / "checkpoints" / "hybrid" / "eps16_pinn_fourier_s0"
    Trainer(
        paper_config(16, "pinn", seeds=(0,), iterations=2, tau2=3.0, checkpoint_dir=str(folder))
    ).save_checkpoint()
    demo = load_demo("hybrid_pinn_1d")
    line = _refused(capsys, "hybrid_pinn_1d", demo.main, HYBRID + ["--seeds", "0"], "tau2")
    assert line.startswith("hybrid_pinn_1d: error:")


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["factors", "--cells", "no-such-cell"], ["unknown cell(s) no-such-cell"]),
        (["factors", "--cells", "base-pinn", "--output-dir", "blocker/o"], ["blocker/o"]),
        (["factors", "--cells", "base-pinn", "--seeds", "0", "0"], ["--seeds", "distinct"]),
        (["pinn", "--iterations", "0"], ["must be a positive integer, got 0"]),
        (["floor", "--cells", "16-tau2-7"], ["unknown floor case(s) 16-tau2-7", "16-tau2-10"]),
        (["floor", "--output-dir", "blocker/o"], ["blocker/o"]),
    ],
)
def test_hybrid_diagnostics_go_through_the_error_contract(
    tmp_path, capsys, monkeypatch, no_work, blocker, extra, fragments
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("hybrid_pinn.training.Trainer", boom)
    demo = load_demo("hybrid_pinn_1d_diagnostics")
    _refused(capsys, "hybrid_pinn_1d_diagnostics", demo.main, extra, *fragments)


# -- the Python API ------------------------------------------------------------------------------
def test_surrogate_refuses_a_network_of_another_discretization():
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    with pytest.raises(ValueError, match=r"input size 144.*expects 576.*n = 8, ell = 1"):
        NNLODSurrogate(CompressionNetwork(layer_sizes(4, 1)), 4, 8, 1)
    with pytest.raises(ValueError, match=r"output size 64.*expects 144.*ell = 2"):
        NNLODSurrogate(CompressionNetwork([400, 64]), 2, 4, 2)


def test_surrogate_refuses_a_non_finite_input():
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    surrogate = NNLODSurrogate(CompressionNetwork(layer_sizes(2, 1)), 4, 2, 1)
    x = np.ones((8, 8))
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value.*\[3, 4\]"):
        surrogate.local_matrices(x)


def test_memory_check_budgets_the_real_batch(monkeypatch):
    """The torch backend's CPU batch is 32 patches: a machine with room for 10 is refused up
    front, not by torch's out-of-memory traceback."""
    import lod_fenicsx.corrector as corrector
    from lod_fenicsx.corrector_torch import bytes_per_patch

    room = 10 * bytes_per_patch(2, 1)
    monkeypatch.setattr(corrector, "_available_memory", lambda: room)
    with pytest.raises(ValueError, match="32 patches"):
        corrector.PatchSolver(8, 2, 1, backend="torch", device="cpu")
    corrector.PatchSolver(8, 2, 1, backend="torch", device="cpu", batch_size=4).close()
    corrector.PatchSolver(2, 2, 1, backend="torch", device="cpu").close()  # 4 patches in all


@pytest.mark.parametrize("device", ["tpu", "cuda:x"])
def test_patch_solver_names_a_device_torch_does_not_know(device):
    from lod_fenicsx.corrector import PatchSolver

    with pytest.raises(ValueError, match=f"device {device!r}"):
        PatchSolver(4, 2, 1, backend="torch", device=device)


# NNLODSurrogate validates its arguments as pglod_solve does (issue 34, item 6): one
# ValueError or TypeError naming the argument, never torch's RuntimeError, an AssertionError, a
# reshape error or a silently dropped imaginary part.
def _surrogate(**kw):
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    args = dict(model=CompressionNetwork(layer_sizes(2, 1)), n_coarse=4, n_sub=2, ell=1)
    return NNLODSurrogate(**{**args, **kw})


@pytest.mark.parametrize(
    "kw, error, fragment",
    [
        ({"n_coarse": 0}, ValueError, "n_coarse"),
        ({"n_coarse": -4}, ValueError, "n_coarse"),
        ({"n_sub": 0}, ValueError, "n_sub"),
        ({"ell": -1}, ValueError, "ell"),
        ({"n_coarse": 4.5}, TypeError, "n_coarse"),
        ({"n_coarse": True}, TypeError, "n_coarse"),
        ({"ell": "1"}, TypeError, "ell"),
        ({"model": "network.pt"}, TypeError, "model"),
        ({"device": "tpu"}, ValueError, "device 'tpu'"),
        ({"device": "cuda:99"}, ValueError, "device 'cuda:99'"),
        ({"device": 3.5}, TypeError, "device must be a str"),
        ({"dtype": torch.int64}, TypeError, "dtype"),
        ({"dtype": "float32"}, TypeError, "dtype"),
        ({"project": "yes"}, TypeError, "project"),
    ],
)
def test_surrogate_refuses_bad_arguments_naming_them(kw, error, fragment):
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(".", r"\.")) as info:
        _surrogate(**kw)
    assert isinstance(info.value, (ValueError, TypeError)) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "x, fragment",
    [
        (np.ones((8, 8), complex), "network_input .*complex"),
        (np.ones((8, 8), bool), "network_input .*bool"),
        (np.full((8, 8), "1"), "network_input .*<U1"),
        (np.ones((8, 6)), r"network_input has shape \(8, 6\), expected \(8, 8\)"),
        (np.ones(64), r"network_input is 1-D"),
        (np.full((8, 8), np.inf), "network_input has 64 non-finite"),
    ],
)
def test_surrogate_refuses_a_bad_network_input_naming_it(x, fragment):
    with pytest.raises(ValueError, match=fragment):
        _surrogate().local_matrices(x)
