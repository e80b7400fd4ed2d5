"""NN-LOD in three dimensions: fields, network, structured layer, dataset, surrogate, refusals."""

import json

import h5py
import numpy as np
import pytest
import torch
from mpi4py import MPI

import lod_fenicsx.corrector  # noqa: F401  (PETSc initialises collectively: on every rank, first)
from helpers import UnitVectors, load_demo

from plumbing.cli import run
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.patch import padded_patches
from nn_compress import fields
from nn_compress.dataset import (
    GenerationConfig,
    PatchCutter,
    flatten_local_matrices,
    generate,
    read_info,
    read_split,
    unflatten_local_matrices,
)
from nn_compress.fields import sample
from nn_compress.network import CompressionNetwork, double_center, input_size, layer_sizes
from nn_compress.surrogate import NNLODSurrogate

CFG3 = GenerationConfig(2, 2, 1, {"A1": 5, "lognormal-low": 5}, dim=3)
CFG2 = GenerationConfig(4, 2, 1, {"A1": 10})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny 3-D dataset and a tiny 2-D one (real families and PatchSolver)."""
    tmp = tmp_path_factory.mktemp("nn3d")
    generate(MPI.COMM_SELF, CFG3, tmp / "d3.h5", progress=False)
    generate(MPI.COMM_SELF, CFG2, tmp / "d2.h5", progress=False)
    return tmp / "d3.h5", tmp / "d2.h5"


# -- coefficient families ------------------------------------------------------------------------
@pytest.mark.parametrize("name", fields.families_in(3) + ("hierarchical-low-lam0.0625",))
def test_3d_families_shape_positivity_determinism(name):
    s = sample(name, 4, 9, 8, dim=3)
    assert s.coefficient.shape == s.network_input.shape == (8, 8, 8) and s.dim == 3
    assert np.all(np.isfinite(s.coefficient)) and s.coefficient.min() > 0
    if name.startswith(("lognormal", "hierarchical")):
        np.testing.assert_allclose(s.coefficient, np.exp(s.network_input), rtol=1e-14)
    else:
        assert 1.0 <= s.coefficient.min() and s.coefficient.max() <= 5.0
    sample(name, 0, 9, 8, dim=3)  # draws in between change nothing
    np.testing.assert_array_equal(sample(name, 4, 9, 8, dim=3).coefficient, s.coefficient)
    if name != "A0":  # one number per sample; compared across indices below
        assert not np.array_equal(sample(name, 5, 9, 8, dim=3).coefficient, s.coefficient)


@pytest.mark.parametrize("k", range(5))
def test_3d_level_family_is_constant_on_dyadic_cubes(k):
    n = 16
    a = sample(f"A{k}", 1, 0, n, dim=3).coefficient
    b = n // 2**k
    blocks = a.reshape(2**k, b, 2**k, b, 2**k, b)
    np.testing.assert_array_equal(
        blocks, np.broadcast_to(blocks[:, :1, :, :1, :, :1], blocks.shape)
    )
    assert len(np.unique(a)) == 8**k
    assert len({sample("A0", i, 0, 4, dim=3).coefficient[0, 0, 0] for i in range(6)}) == 6


def test_3d_multiscale_is_the_mean_of_nine_levels():
    a = sample("Ams", 2, 0, 16, dim=3).coefficient
    # Levels 4..8 are i.i.d. per cell on 16³ cells: every cell differs, the values stay in [1, 5]
    # and the mean of nine U[1, 5] values concentrates around 3.
    assert len(np.unique(a)) == 16**3 and 1.0 <= a.min() and a.max() <= 5.0
    assert abs(a.mean() - 3.0) < 1.0 and a.std() < 1.0


def test_2d_only_families_refuse_3d_in_one_line():
    for name in ("cracks", "smooth"):
        with pytest.raises(ValueError, match=rf"family '{name}' is defined in 2-D only.*Ams"):
            sample(name, 0, 0, 8, dim=3)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        sample("A1", 0, 0, 8, dim=4)


def test_3d_embedding_exact_on_the_grid():
    n, lam = 8, 0.25
    emb = fields.circulant_embedding(n, 1.0, lam, 1.0, dim=3)
    assert emb.dim == 3 and emb.eigenvalues.shape == (emb.size,) * 3 and emb.clipped_mass == 0
    row = np.fft.ifftn(emb.eigenvalues).real[:n, :n, :n]
    lag = np.arange(n) / n
    dist = np.sqrt(lag[:, None, None] ** 2 + lag[None, :, None] ** 2 + lag[None, None, :] ** 2)
    np.testing.assert_allclose(
        row, fields.whittle_matern_covariance(dist, 1.0, lam, 1.0), atol=1e-12
    )


def test_3d_sampler_covariance_exact():
    """g = L ξ is linear in the 2 m³ normal variates: Σ_j (L e_j)(L e_j)ᵀ must be the
    Whittle–Matérn matrix between the 4³ cell midpoints to round-off."""
    n, lam, sigma2 = 4, 0.25, 1.5
    m = fields.circulant_embedding(n, 1.0, lam, sigma2, dim=3).size
    assert m == 8  # the minimal embedding is exact here: 2 · 8³ unit vectors
    rng = UnitVectors()
    columns = np.stack(
        [fields.gaussian_field(rng, n, 1.0, lam, sigma2, dim=3).ravel() for _ in range(2 * m**3)],
        axis=1,
    )
    x = np.stack([c.ravel() for c in fields.cell_midpoints(n, dim=3)], axis=1)  # (cells, xyz)
    exact = fields.whittle_matern_covariance(
        np.linalg.norm(x[:, None] - x[None], axis=2), 1.0, lam, sigma2
    )
    np.testing.assert_allclose(columns @ columns.T, exact, atol=1e-12)


# -- network and patches -------------------------------------------------------------------------
def test_3d_network_sizes():
    assert input_size(4, 1, 3) == 1728
    assert layer_sizes(4, 1, 3) == [1728, 1728, 864, 864, 512, 512, 512]
    assert layer_sizes(2, 1, 3) == [216, 216, 512, 512, 512]
    assert layer_sizes(2, 2, 3)[-1] == 8 * 6**3
    assert layer_sizes(8, 2) == layer_sizes(8, 2, 2)  # 2-D unchanged
    with pytest.raises(ValueError, match="structured output needs 8 columns"):
        CompressionNetwork([216, 20, 100], structured=True, dim=3)


@pytest.mark.parametrize("n_coarse,n_sub,ell", [(2, 2, 1), (3, 2, 2)])
def test_3d_patch_cutting_and_flattening(n_coarse, n_sub, ell):
    rng = np.random.default_rng(0)
    batch = 1.0 + rng.random((2,) + (n_coarse * n_sub,) * 3)
    cutter = PatchCutter(n_coarse, n_sub, ell, dim=3)
    np.testing.assert_array_equal(
        cutter.all_patches(torch.as_tensor(batch[1])).numpy(),
        padded_patches(batch[1], n_coarse, n_sub, ell),
    )
    padded = cutter.pad(torch.as_tensor(batch))
    got = cutter.cut(padded, torch.tensor([0, 1]), torch.tensor([n_coarse**3 - 1, 0])).numpy()
    np.testing.assert_array_equal(got[0], padded_patches(batch[0], n_coarse, n_sub, ell)[-1])
    local = rng.random((5, (2 * ell + 2) ** 3, 8))
    flat = flatten_local_matrices(local)
    np.testing.assert_array_equal(flat[:, : (2 * ell + 2) ** 3], local[:, :, 0])  # column-wise
    np.testing.assert_array_equal(unflatten_local_matrices(flat, ell), local)
    with pytest.raises(ValueError, match="expected"):
        unflatten_local_matrices(flat[:, :-1], ell)


def test_3d_double_centering_keeps_exact_local_matrices():
    """Exact S_{A,T} on the full padded node set of 27 hexahedral patches (corner, edge, face,
    interior) have zero row sums over T's 8 nodes and zero column sums over the 64 patch nodes:
    the projection leaves them unchanged, and with the mask they are the training labels."""
    a = np.random.default_rng(3).uniform(1.0, 5.0, (6, 6, 6))
    with PatchSolver(3, 2, 1, dim=3) as ps:
        full = torch.as_tensor(flatten_local_matrices(ps.full_local_matrices(a)))
        label = torch.as_tensor(flatten_local_matrices(ps.local_matrices(a)))
    scale = full.abs().max()
    cols = full.reshape(27, 8, 64)
    assert (
        cols.sum(dim=2).abs().max() < 1e-13 * scale and cols.sum(dim=1).abs().max() < 1e-13 * scale
    )
    assert (double_center(full, 8) - full).abs().max() < 1e-13 * scale
    mask = PatchCutter(3, 2, 1, dim=3).mask(torch.arange(27), full.dtype)
    assert (double_center(full, 8) * mask - label).abs().max() < 1e-13 * scale


def test_3d_structured_output_has_zero_row_and_column_sums():
    torch.manual_seed(0)
    model = CompressionNetwork(layer_sizes(2, 1, 3), structured=True, dim=3).double()
    out = model(torch.rand(20, 216, dtype=torch.float64)).reshape(20, 8, 64)
    assert out.sum(dim=2).abs().max() < 1e-13 * out.abs().max()  # columns over the patch nodes
    assert out.sum(dim=1).abs().max() < 1e-13 * out.abs().max()  # rows over T's 8 nodes
    # The 2-D grouping (4 columns of 128) would leave the 3-D columns unbalanced.
    wrong = double_center(torch.rand(3, 512, dtype=torch.float64)).reshape(3, 8, 64)
    assert wrong.sum(dim=2).abs().max() > 1e-3


# -- dataset -------------------------------------------------------------------------------------
def test_3d_dataset_round_trip(files):
    d3, _ = files
    info = read_info(d3, dim=3)
    assert info.config == CFG3 and json.loads(info.attrs["config"])["dim"] == 3
    assert "dim" not in json.loads(CFG2.to_json())  # 2-D configurations as before d existed
    with h5py.File(d3, "r") as f:
        assert f["fields"].shape == (10, 4, 4, 4) and f["local_matrices"].shape == (10, 8, 512)
        assert "iz, iy, ix" in f.attrs["layout"]
    x, mats, gids = read_split(d3, "train")
    np.testing.assert_array_equal(gids, [0, 1, 2, 3, 5, 6, 7, 8])
    s = sample("lognormal-low", 1, CFG3.base_seed, 4, dim=3)
    np.testing.assert_array_equal(x[5], s.network_input)
    with PatchSolver(2, 2, 1, dim=3) as ps:
        np.testing.assert_array_equal(
            mats[5], flatten_local_matrices(ps.local_matrices(s.coefficient))
        )


def test_3d_training_checkpoint_and_surrogate(files, tmp_path):
    from nn_compress.training import TrainConfig, load_model, train

    d3, _ = files
    cfg = TrainConfig(str(d3), str(tmp_path), epochs=2, batch_size=16, schedule=((0, 1e-3),))
    history = train(cfg, resume=False, log=lambda *_: None)
    assert np.isfinite(history["val_loss"]).all()
    model, ckpt = load_model(tmp_path / "last.pt", dim=3)
    assert model.dim == ckpt["dim"] == 3 and model.sizes == layer_sizes(2, 1, 3)
    # The last layer predicts unit-cell matrices; h^(d-2) = 1/4 on 4³ fine cells scales them.
    assert model.output_scale == ckpt["output_scale"] == 0.25
    x = sample("Ams", 7, 0, 4, dim=3).network_input
    local = NNLODSurrogate(model, 2, 2, 1).local_matrices(x)
    assert local.shape == (8, 64, 8) and np.isfinite(local).all()


class _ExactLocalMatrices(torch.nn.Module):
    """A 'network' that returns the exact flattened S_{A,T} of one coefficient for every patch."""

    def __init__(self, labels):
        super().__init__()
        self.register_buffer("labels", torch.as_tensor(labels))
        self.dim = 3

    def forward(self, x, mask=None):
        return self.labels


def test_3d_surrogate_with_exact_local_matrices_reproduces_pglod():
    from nn_compress.surrogate import compare

    n_coarse, n_sub, ell = 4, 2, 1
    s = sample("A2", 3, 0, n_coarse * n_sub, dim=3)
    with PatchSolver(n_coarse, n_sub, ell, dim=3) as ps:
        labels = flatten_local_matrices(ps.local_matrices(s.coefficient))
    surrogate = NNLODSurrogate(_ExactLocalMatrices(labels), n_coarse, n_sub, ell)
    res = compare(MPI.COMM_SELF, surrogate, s.coefficient, s.network_input)
    assert res.u_pglod.shape == (5, 5, 5) and res.u_pglod.max() > 0
    assert res.spectral_error < 1e-12 * res.spectral_norm_pglod
    assert res.l2_error < 1e-12 * res.l2_norm_pglod


# -- the two dimensions refuse each other --------------------------------------------------------
def test_readers_and_networks_refuse_the_other_dimension(files, tmp_path):
    from nn_compress.training import load_model

    d3, d2 = files
    with pytest.raises(
        ValueError, match=r"holds 3-D data \(N_H = 2, n = 2, ell = 1, d = 3\); a 2-D"
    ):
        read_info(d3, dim=2)
    with pytest.raises(ValueError, match="holds 2-D data.*a 3-D one is needed"):
        read_info(d2, dim=3)
    net2 = NNLODSurrogate(CompressionNetwork(layer_sizes(2, 1)), 4, 2, 1)
    with pytest.raises(ValueError, match=r"network_input is 3-D .*the network 2-D"):
        net2.local_matrices(np.ones((8, 8, 8)))
    net3 = NNLODSurrogate(CompressionNetwork(layer_sizes(2, 1, 3), dim=3), 2, 2, 1)
    with pytest.raises(ValueError, match=r"network_input is 2-D .*the network 3-D"):
        net3.local_matrices(np.ones((4, 4)))
    with pytest.raises(ValueError, match="input size 36 does not fit.*expects 216"):
        NNLODSurrogate(CompressionNetwork(layer_sizes(2, 1)), 2, 2, 1, dim=3)
    path = tmp_path / "n3.pt"
    sizes = layer_sizes(2, 1, 3)
    torch.save(
        {"layer_sizes": sizes, "dim": 3, "model": CompressionNetwork(sizes, dim=3).state_dict()},
        path,
    )
    with pytest.raises(ValueError, match="is a 3-D network .*a 2-D one is needed"):
        load_model(path, dim=2)
    assert load_model(path)[0].dim == 3


def test_training_refuses_a_2d_initial_network_on_3d_data(files, tmp_path):
    from nn_compress.training import TrainConfig, train

    d3, _ = files
    init = tmp_path / "n2.pt"
    sizes = layer_sizes(2, 1)
    torch.save({"layer_sizes": sizes, "model": CompressionNetwork(sizes).state_dict()}, init)
    cfg = TrainConfig(str(d3), str(tmp_path / "ck"), epochs=1, batch_size=16, init_from=str(init))
    with pytest.raises(ValueError, match="is a 2-D network .*a 3-D one is needed"):
        train(cfg, resume=False)


def test_old_2d_checkpoints_load_as_2d(tmp_path):
    """A checkpoint from before d existed (no 'dim', 2-D generation config) gives the same net."""
    from nn_compress.training import load_model

    torch.manual_seed(5)
    sizes = layer_sizes(2, 1)
    net = CompressionNetwork(sizes, structured=True)
    old = {"layer_sizes": sizes, "structured": True, "model": net.state_dict()}
    old["generation_config"] = json.loads(CFG2.to_json())
    torch.save(old, tmp_path / "old.pt")
    loaded, _ = load_model(tmp_path / "old.pt", dim=2)
    x = torch.rand(7, 36)
    assert loaded.dim == 2 and loaded.output_scale == 1.0 and torch.equal(loaded(x), net(x))
    assert list(net.state_dict()) == [
        f"layers.{i}.{w}" for i in range(4) for w in ("weight", "bias")
    ]


# -- the experiment script -----------------------------------------------------------------------
def test_nnlod_3d_demo_tiny(tmp_path):
    demo = load_demo("nnlod_3d")
    out = tmp_path / "out"
    args = ["--preset", "lod3d-tiny", "--statistics", "2", "--out", str(out), "--batch-size", "64"]
    assert run("nnlod_3d", demo.main, args) == 0
    table = json.loads((out / "table.json").read_text())
    summary = table["statistics"]["Ams"]["summary"]
    assert summary["l2_relative"]["n"] == 2 and summary["local_relative"]["max"] > 0
    assert table["discretization"]["dim"] == 3 and table["network"]["layer_sizes"][0] == 216
    assert (out / "slices.png").stat().st_size < 200_000
    rows = (out / "errors.csv").read_text().splitlines()
    assert rows[0].startswith("family,sample,") and len(rows) == 3
    assert "| ‖u_H − û_H‖_L² / ‖u_H‖_L² |" in (out / "table.md").read_text()


def test_nnlod_3d_demo_refuses_a_2d_family(tmp_path, capsys):
    demo = load_demo("nnlod_3d")
    args = ["--preset", "lod3d-tiny", "--families", "cracks", "--out", str(tmp_path)]
    assert run("nnlod_3d", demo.main, args) == 2
    err = capsys.readouterr().err
    assert "--families cracks: not 3-D families" in err and "Traceback" not in err
