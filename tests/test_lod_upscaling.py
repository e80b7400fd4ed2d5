"""Upscaled permeability by flow experiments (issue 32): exact values for constant and layered
coefficients, PG-LOD against the fine FEM, and the demo on a tiny grid."""

import json

import numpy as np
import pytest
from helpers import load_demo
from mpi4py import MPI

from lod_fenicsx.discretization import Discretization
from lod_fenicsx.upscaling import fine_upscaled_permeability, flow_faces, upscaled_permeability


def test_flow_faces():
    assert flow_faces(0, 2) == (("y0", "y1"), {"x0": 1.0})
    assert flow_faces(2, 3) == (("x0", "x1", "y0", "y1"), {"z0": 1.0})
    with pytest.raises(ValueError, match="axis must be 0 .x. to 1 in 2-D"):
        flow_faces(2, 2)


@pytest.mark.parametrize("dim", [2, 3])
def test_layered_blocks_give_the_arithmetic_and_harmonic_means(dim):
    n_coarse, n_sub = 3, 2
    n_fine = n_coarse * n_sub
    layers = np.random.default_rng(dim).uniform(1.0, 50.0, n_fine)
    a = np.broadcast_to(layers, (n_fine,) * dim).copy()  # layers across x, along y (and z)
    disc = Discretization(MPI.COMM_SELF, n_coarse, n_sub, dim=dim)
    fine = fine_upscaled_permeability(disc, a, rtol=1e-14)
    harmonic, arithmetic = 1 / np.mean(1 / layers), layers.mean()
    expected = np.array([harmonic] + [arithmetic] * (dim - 1))
    assert np.abs(fine / expected - 1).max() < 1e-10  # CG to 1e-14; the FEM itself is exact
    # Whole-domain patches: PG-LOD is the fine FEM (ideal LOD), so the same values.
    lod = upscaled_permeability(MPI.COMM_SELF, a, n_coarse, n_sub, n_coarse - 1)
    assert np.abs(lod / expected - 1).max() < 1e-13
    # ℓ = 1: exact along the layers, close across them.
    lod = upscaled_permeability(MPI.COMM_SELF, a, n_coarse, n_sub, 1)
    assert np.abs(lod[1:] / arithmetic - 1).max() < 1e-13
    assert 1e-8 < abs(lod[0] / harmonic - 1) < 0.05


def test_pglod_permeability_converges_to_the_fine_one_in_ell():
    n_coarse, n_sub = 4, 4
    a = np.exp(np.random.default_rng(5).normal(0.0, 1.0, (16, 16)))
    disc = Discretization(MPI.COMM_SELF, n_coarse, n_sub)
    fine = fine_upscaled_permeability(disc, a, rtol=1e-14)
    errors = [
        np.abs(upscaled_permeability(MPI.COMM_SELF, a, n_coarse, n_sub, ell) / fine - 1).max()
        for ell in (1, 2, 3)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-9  # ℓ = 3: every patch is D
    assert errors[0] < 0.05


def test_demo_writes_its_table_and_figure(tmp_path):
    demo = load_demo("upscaled_permeability")
    argv = ["--samples", "1", "--samples-3d", "1", "--n-coarse", "4", "--n-sub", "2"]
    argv += ["--ells", "1", "3", "--n-coarse-3d", "2", "--n-sub-3d", "2", "--out", str(tmp_path)]
    assert demo.main(argv) == 0
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 4 and {r["dim"] for r in records} == {2, 3}
    for r in records:
        if r["dim"] == 2:  # ℓ = 3 = N_H − 1: whole-domain patches, the fine values
            assert np.abs(np.array(r["pglod_3"]) / r["fine"] - 1).max() < 1e-10  # CG to 1e-12
    table = (tmp_path / "table.md").read_text()
    assert table.count("| low (10) | 2 | 4 | 2 | 1 |") == 2
    assert (tmp_path / "errors.png").stat().st_size > 1000
    assert demo.main(argv) == 0  # resumes: nothing new
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 4


def test_readme_boundary_example_runs_at_a_small_size():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    (code,) = [c for c in re.findall(r"```python\n(.*?)```", readme, re.S) if "neumann=" in c]
    assert "MPI.COMM_WORLD, a, 32, 8, 2, neumann=" in code
    a = np.full((8, 8), 2.5)
    scope = dict(MPI=MPI, a=a, pglod_solve=__import__("lod_fenicsx").pglod_solve)
    exec(code.replace("a, 32, 8, 2,", "a, 4, 2, 1,"), scope)
    assert abs(scope["outflow"] - 2.5) < 1e-13  # a constant block: its own value
