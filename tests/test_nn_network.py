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


def test_projection_onto_the_labels_structure():
    """``paper000_experiments.py --project-output``: the exact labels (interior, edge and corner
    patches) pass unchanged; any output lands on zero line sums wherever the mask leaves a line
    whole, zero where it is masked, and only the part orthogonal to such matrices is removed."""
    from nn_compress.dataset import PatchCutter
    from nn_compress.network import project_onto_structure

    _, label = _exact_full_and_label(n_coarse=8)  # 4 patches inside D, 60 that cross ∂D
    mask = PatchCutter(8, 2, 2).mask(torch.arange(64), label.dtype)
    assert (project_onto_structure(label, mask) - label).abs().max() <= 1e-13 * label.abs().max()
    y = torch.rand(64, 144, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    p = project_onto_structure(y, mask)
    assert (p * (1 - mask)).abs().max() == 0
    cols, whole = p.reshape(64, 4, 36), mask.reshape(64, 4, 36).bool()
    row_sums, col_sums = cols.sum(dim=1), cols.sum(dim=2)
    assert row_sums[whole.all(dim=1)].abs().max() < 1e-14
    assert col_sums[whole.all(dim=2)].abs().max() < 1e-14
    n_whole = whole.all(dim=(1, 2)).sum().item()
    assert n_whole == 4 and whole.all(dim=1).any(dim=1).sum() > n_whole  # all three kinds
    assert (project_onto_structure(p, mask) - p).abs().max() < 1e-14  # a projection ...
    assert abs(((y - p) * p).sum()) < 1e-12 * (y * y).sum()  # ... an orthogonal one
    assert (y * mask - p).abs().max() > 0.1


def test_structured_surrogate_has_zero_row_sums_away_from_the_boundary():
    """Ŝ_A of an (untrained) structured network, and of a plain one projected after the fact
    (``project=True``): zero row sums where every patch is whole."""
    from lod_fenicsx.assembly import local_to_global_coo
    from nn_compress.network import CompressionNetwork, layer_sizes
    from nn_compress.surrogate import NNLODSurrogate

    n_coarse, n_sub, ell = 8, 2, 1
    sums = {}
    for structured, project in ((False, False), (True, False), (False, True)):
        torch.manual_seed(1)
        model = CompressionNetwork(layer_sizes(n_sub, ell), structured=structured).double()
        local = NNLODSurrogate(model, n_coarse, n_sub, ell, project=project).local_matrices(
            np.random.rand(16, 16) + 1
        )
        rows, cols, vals = local_to_global_coo(local, np.arange(n_coarse**2), n_coarse, ell)
        row_sums = np.bincount(rows, weights=vals, minlength=(n_coarse + 1) ** 2).reshape(9, 9)
        deep = row_sums[ell + 2 : n_coarse - ell - 1, ell + 2 : n_coarse - ell - 1]
        sums[structured, project] = np.abs(deep).max() / np.abs(vals).max()
    assert sums[False, False] > 1e-3
    assert sums[True, False] < 1e-13 and sums[False, True] < 1e-13
