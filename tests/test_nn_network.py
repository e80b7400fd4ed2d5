"""The compression network of paper 000, Sec. 4.3, and on-the-fly patch cutting in torch."""

import numpy as np
import pytest
import torch

from lod_fenicsx.patch import padded_patches
from nn_compress.dataset import PatchCutter, flatten_local_matrices, unflatten_local_matrices
from nn_compress.network import CompressionNetwork, count_parameters, layer_sizes


def test_paper_network_has_5063504_parameters():
    sizes = layer_sizes(8, 2)
    assert sizes == [1600, 1600, 800, 800, 400, 400, 144, 144, 144]
    model = CompressionNetwork(sizes)
    assert count_parameters(model) == 5_063_504
    assert len(model.layers) == 8


def test_sizes_follow_the_discretization():
    assert layer_sizes(2, 1) == [36, 36, 64, 64, 64]
    assert layer_sizes(4, 2) == [400, 400, 200, 200, 144, 144, 144]
    with pytest.raises(ValueError, match="n_sub = 3"):
        layer_sizes(3, 1)


def test_glorot_uniform_bounds_and_identity_last_layer():
    torch.manual_seed(0)
    model = CompressionNetwork(layer_sizes(4, 1))
    w = model.layers[0].weight
    bound = np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.9 * bound
    assert torch.count_nonzero(model.layers[0].bias) == 0
    # Identity last layer: outputs can be negative (a ReLU last layer could not).
    out = model(torch.rand(64, model.sizes[0]))
    assert (out < 0).any()


@pytest.mark.parametrize("n_coarse,n_sub,ell", [(4, 2, 1), (3, 4, 2)])
def test_torch_patch_cutting_equals_padded_patches(n_coarse, n_sub, ell):
    rng = np.random.default_rng(1)
    fields = 1.0 + rng.random((3, n_coarse * n_sub, n_coarse * n_sub))
    cutter = PatchCutter(n_coarse, n_sub, ell)
    padded = cutter.pad(torch.as_tensor(fields))
    n_el = n_coarse**2
    s = torch.tensor([0, 2, 1, 2])
    t = torch.tensor([0, n_el - 1, n_el // 2, 1])
    got = cutter.cut(padded, s, t).numpy()
    for k in range(4):
        ref = padded_patches(fields[s[k]], n_coarse, n_sub, ell)[t[k]]
        np.testing.assert_array_equal(got[k], ref)
    np.testing.assert_array_equal(
        cutter.all_patches(torch.as_tensor(fields[1])).numpy(),
        padded_patches(fields[1], n_coarse, n_sub, ell),
    )


def test_column_wise_flattening_round_trip():
    local = np.arange(2 * 16 * 4, dtype=float).reshape(2, 16, 4)
    flat = flatten_local_matrices(local)
    # Column-wise: the first 16 entries are the first column.
    np.testing.assert_array_equal(flat[0, :16], local[0, :, 0])
    np.testing.assert_array_equal(unflatten_local_matrices(flat, 1), local)


# -- structure-preserving output layer ----------------------------------------------------------
def _exact_full_and_label(n_coarse=6, n_sub=2, ell=2, seed=0):
    from lod_fenicsx.corrector import PatchSolver
    from nn_compress.dataset import flatten_local_matrices

    a = np.random.default_rng(seed).uniform(1.0, 5.0, (n_coarse * n_sub,) * 2)
    ps = PatchSolver(n_coarse, n_sub, ell)
    full = flatten_local_matrices(ps.full_local_matrices(a))
    label = flatten_local_matrices(ps.local_matrices(a))
    return torch.as_tensor(full), torch.as_tensor(label)


def test_double_centering_keeps_exact_local_matrices():
    """Exact S_{A,T} on the full padded node set (interior, edge, corner T) pass unchanged."""
    from nn_compress.dataset import PatchCutter
    from nn_compress.network import double_center

    full, label = _exact_full_and_label()
    assert (double_center(full) - full).abs().max() <= 1e-13 * full.abs().max()
    # ... and after the padding's zeroing they are exactly the training labels.
    mask = PatchCutter(6, 2, 2).mask(torch.arange(36), full.dtype)
    assert (double_center(full) * mask - label).abs().max() <= 1e-13 * label.abs().max()
    assert (full * mask - label).abs().max() == 0


def test_structured_output_has_zero_row_and_column_sums():
    from nn_compress.network import CompressionNetwork

    torch.manual_seed(0)
    model = CompressionNetwork([36, 20, 64], structured=True).double()
    out = model(torch.rand(50, 36, dtype=torch.float64)).reshape(50, 4, 16)  # (B, column j, row i)
    assert out.sum(dim=2).abs().max() < 1e-13 * out.abs().max()  # each column over the patch nodes
    assert out.sum(dim=1).abs().max() < 1e-13 * out.abs().max()  # each row over T's 4 nodes
    plain = CompressionNetwork([36, 20, 64]).double()
    plain.load_state_dict(model.state_dict())
    assert (
        plain(torch.rand(5, 36, dtype=torch.float64)).reshape(5, 4, 16).sum(dim=1).abs().max()
        > 1e-3
    )


def test_projecting_a_plain_network_removes_only_its_sums():
    """``paper000_experiments.py --project-output``: a plain network switched to the structured
    output after training keeps its weights; the projection removes exactly the part of its output
    with non-zero row and column sums (Y - P(Y) is orthogonal to the structured matrices)."""
    from nn_compress.network import CompressionNetwork, double_center

    torch.manual_seed(2)
    model = CompressionNetwork([36, 20, 64]).double()
    x = torch.rand(7, 36, dtype=torch.float64)
    plain = model(x)
    model.structured = True
    projected = model(x)
    scale = plain.abs().max()
    sums = projected.reshape(7, 4, 16)
    assert sums.sum(dim=1).abs().max() < 1e-13 * scale
    assert sums.sum(dim=2).abs().max() < 1e-13 * scale
    removed = plain - projected
    assert removed.abs().max() > 1e-2 * scale
    assert double_center(removed).abs().max() < 1e-13 * scale
    assert abs((removed * projected).sum()) < 1e-12 * scale**2 * removed.numel()


def test_structured_surrogate_has_zero_row_sums_away_from_the_boundary():
    """Ŝ_A of an (untrained) structured network: zero row sums where every patch is whole."""
    from lod_fenicsx.assembly import local_to_global_coo
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    n_coarse, n_sub, ell = 8, 2, 1
    torch.manual_seed(1)
    sums = {}
    for structured in (False, True):
        model = CompressionNetwork(layer_sizes(n_sub, ell), structured=structured).double()
        local = NNLODSurrogate(model, n_coarse, n_sub, ell).local_matrices(
            np.random.rand(16, 16) + 1
        )
        rows, cols, vals = local_to_global_coo(local, np.arange(n_coarse**2), n_coarse, ell)
        row_sums = np.bincount(rows, weights=vals, minlength=(n_coarse + 1) ** 2).reshape(9, 9)
        deep = row_sums[ell + 2 : n_coarse - ell - 1, ell + 2 : n_coarse - ell - 1]
        sums[structured] = np.abs(deep).max() / np.abs(vals).max()
    assert sums[True] < 1e-13 and sums[False] > 1e-3
