"""The public API of the packages, and the README's Python examples."""

import pathlib
import re

import lod_fenicsx
import nn_compress


def test_every_public_name_resolves():
    for package in (lod_fenicsx, nn_compress):
        assert package.__all__
        for name in package.__all__:
            assert getattr(package, name) is not None, name


def test_readme_pglod_example_runs_at_a_small_size():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    assert "pglod_solve(MPI.COMM_WORLD, a, n_coarse=32, n_sub=8, ell=2" in code
    small = code.replace("(256, 256)", "(16, 16)").replace(
        "n_coarse=32, n_sub=8, ell=2", "n_coarse=8, n_sub=2, ell=1"
    )
    scope = {}
    exec(small.replace("print(result.u_coarse.shape)", "shape = result.u_coarse.shape"), scope)
    assert (
        scope["shape"] == (9, 9) and scope["result"].matrix is None
    )  # destroyed by the with block
