"""The nn_compress demo scripts: --help, and generate.py's refusal of another configuration."""

import h5py
import pytest

import lod_fenicsx.corrector  # noqa: F401  (PETSc initialised up front, as in the demos)
from helpers import load_demo

from plumbing.cli import run


@pytest.mark.parametrize(
    "name", ["generate", "train", "paper000_experiments", "paper004_experiments", "nnlod_3d"]
)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_demo(name).main(["--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_generate_cli_resumes_and_refuses_another_configuration(tmp_path, capsys):
    gen = load_demo("generate")
    out = str(tmp_path / "small.h5")
    args = ["--preset", "small", "--samples-per-family", "1", "--output", out, "--no-progress"]
    assert run("generate", gen.main, args) == 0
    with h5py.File(out, "r") as f:
        assert f["done"][:].sum() == 10 and f["local_matrices"].shape == (10, 64, 144)
    assert run("generate", gen.main, args) == 0
    assert "nothing to do, all 10 samples" in capsys.readouterr().out
    assert run("generate", gen.main, args + ["--base-seed", "7"]) == 2
    err = capsys.readouterr().err
    assert "differing keys: base_seed (file: 20220529, requested: 7)" in err
