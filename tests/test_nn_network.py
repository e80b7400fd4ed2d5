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
