"""Multiscale Fourier feature network, MLP and the hard Dirichlet factor (Sec. 4.4)."""

import pytest
import torch

from hybrid_pinn.network import MLP, HardDirichlet, MultiscaleFourierNet, Swish


def test_fourier_matrices_have_the_requested_scales_and_are_frozen():
    g = torch.Generator().manual_seed(0)
    net = MultiscaleFourierNet((1.0, 16.0, 64.0), n_features=4000, depth=1, width=8, generator=g)
    assert net.B.shape == (3, 4000, 1)
    stds = net.B.std(dim=(1, 2))
    assert torch.allclose(stds, torch.tensor([1.0, 16.0, 64.0]), rtol=0.05)
    assert all(p is not net.B for p in net.parameters())  # a buffer: saved, not trained
    assert "B" in net.state_dict()
    trainable = MultiscaleFourierNet((1.0,), n_features=4, depth=1, width=8, trainable_b=True)
    assert any(p is trainable.B for p in trainable.parameters())


def test_shared_trunk_and_concatenated_head():
    net = MultiscaleFourierNet((1.0, 16.0), n_features=50, depth=2, width=100)
    # one trunk (2 x [100]) for both embeddings, one head on the concatenation 2 * 100 -> 1
    assert net.trunk[0].weight.shape == (100, 100) and net.trunk[2].weight.shape == (100, 100)
    assert net.head.weight.shape == (1, 200)
    n = sum(p.numel() for p in net.parameters())
    assert n == 2 * (100 * 100 + 100) + 200 + 1


def test_glorot_initialisation_variance():
    net = MultiscaleFourierNet((1.0,), n_features=200, depth=2, width=400)
    w = net.trunk[2].weight  # 400 x 400: Glorot normal variance 2 / (400 + 400)
    assert abs(w.var().item() - 2.0 / 800.0) < 0.05 * 2.0 / 800.0
    assert torch.count_nonzero(net.trunk[2].bias) == 0


@pytest.mark.parametrize("body", [MultiscaleFourierNet((1.0, 16.0), 10, 2, 20, "swish"), MLP(2, 20)])
def test_hard_dirichlet_conditions_are_exact(body):
    net = HardDirichlet(body)
    values = net(torch.tensor([[0.0], [1.0], [0.5]]))
    assert values[0].item() == 0.0 and values[1].item() == 0.0 and values[2].item() != 0.0


def test_swish_and_unknown_activation():
    assert torch.allclose(Swish()(torch.tensor([0.0, 2.0])), torch.tensor([0.0, 2.0 * torch.sigmoid(torch.tensor(2.0))]))
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 10, "relu")
    with pytest.raises(ValueError, match="scales"):
        MultiscaleFourierNet((1.0, -2.0), 10, 2, 10)
