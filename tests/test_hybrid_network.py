"""Multiscale Fourier feature network, MLP, hard Dirichlet factor (Sec. 4.4);
closed-form jets; members."""

import math

import numpy as np
import pytest
import torch

from hybrid_pinn.losses import derivatives
from hybrid_pinn.network import MLP, HardDirichlet, MultiscaleFourierNet, Swish


def _gens(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_fourier_matrices_have_the_requested_scales_and_are_frozen():
    net = MultiscaleFourierNet(
        (1.0, 16.0, 64.0), n_features=4000, depth=1, width=8, generator=_gens(0)[0]
    )
    assert net.B.shape == (1, 3, 4000)
    stds = net.B[0].std(dim=1)
    assert torch.allclose(stds, torch.tensor([1.0, 16.0, 64.0]), rtol=0.05)
    assert all(p is not net.B for p in net.parameters())  # a buffer: saved, not trained
    assert "B" in net.state_dict()
    trainable = MultiscaleFourierNet((1.0,), n_features=4, depth=1, width=8, trainable_b=True)
    assert any(p is trainable.B for p in trainable.parameters())


@pytest.mark.parametrize("convention, factor", [("angular", 1.0), ("literal", 2.0 * math.pi)])
def test_feature_spectrum_has_the_stated_scale(convention, factor):
    """Each embedding entry cos(w b x) is a pure tone at angular frequency w |b|: the FFT peak of
    the sampled feature sits there (to one frequency bin); and over 4000 rows of B ~ N(0, 16^2)
    the RMS angular frequency, read off the slope of sin(w b x) at 0, is w * 16: 16 rad per unit
    x (angular) or 2 pi 16 (literal)."""
    net = MultiscaleFourierNet(
        (16.0,), n_features=6, depth=1, width=4, generator=_gens(1)[0], convention=convention
    ).double()
    n, length = 8192, 64.0  # a long window: frequency bins 2 pi / 64 apart
    x = torch.arange(n, dtype=torch.float64) * (length / n)
    features = net.features(x, order=0)[0][0]  # (M, 2m): cos columns first
    for j in range(6):
        spectrum = np.abs(np.fft.rfft(features[:, j].numpy()))
        peak = 2 * np.pi * np.argmax(spectrum) / length
        assert abs(peak - factor * abs(net.B[0, 0, j].item())) <= 2 * np.pi / length
    wide = MultiscaleFourierNet(
        (16.0,), n_features=4000, depth=1, width=4, generator=_gens(2)[0], convention=convention
    ).double()
    slopes = wide.features(torch.zeros(1, dtype=torch.float64), order=1)[1][
        0, 0, 4000:
    ]  # d/dx sin(w b x) at 0
    rms = math.sqrt(torch.mean(slopes**2).item())
    assert abs(rms / (factor * 16.0) - 1.0) < 0.05


@pytest.mark.parametrize("factor", HardDirichlet.FACTORS)
@pytest.mark.parametrize("sigma", ["tanh", "swish"])
@pytest.mark.parametrize("kind", ["fourier", "mlp"])
def test_jet_equals_autograd(sigma, kind, factor):
    """v, v', v'' of the closed-form pass equal double-backward autograd, member by member
    (float64), with either boundary factor."""
    if kind == "fourier":
        body = MultiscaleFourierNet((1.0, 16.0), 7, 2, 9, sigma, generators=_gens(0, 1), n_models=2)
    else:
        body = MLP(2, 9, sigma, generators=_gens(0, 1), n_models=2)
    net = HardDirichlet(body, factor, layer=0.1).double()
    x = torch.rand(13, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    jet = net.jet(x)
    assert jet.shape == (2, 3, 13)
    for member in range(2):
        v, dv, d2v = derivatives(lambda z: net(z)[member], x)
        for got, want in zip(jet[member], (v, dv, d2v)):
            assert torch.allclose(got, want, rtol=1e-11, atol=1e-11 * want.abs().max().item())


def test_normalized_input_is_the_plain_network_at_the_standardized_point():
    """With ``normalize_input`` the body at x is the plain body (same B and weights) at
    x^ = (x - 1/2) sqrt(12), its derivatives sqrt(12) and 12 times the plain ones there (chain
    rule); the jet still equals autograd."""
    kwargs = dict(generator=_gens(4)[0], bias_init="normal")
    plain = MultiscaleFourierNet((1.0, 16.0), 7, 2, 9, **kwargs).double()
    kwargs = dict(generator=_gens(4)[0], bias_init="normal", normalize_input=True)
    scaled = MultiscaleFourierNet((1.0, 16.0), 7, 2, 9, **kwargs).double()
    x = torch.linspace(0, 1, 17, dtype=torch.float64)
    got, want = scaled.jet(x)[0], plain.jet((x - 0.5) * math.sqrt(12.0))[0]
    for order in range(3):
        assert torch.allclose(got[order], math.sqrt(12.0) ** order * want[order], rtol=1e-12)
    net = HardDirichlet(scaled)
    v, dv, d2v = derivatives(lambda z: net(z)[0], x)
    assert torch.allclose(net.jet(x)[0], torch.stack([v, dv, d2v]), rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("kind", ["fourier", "mlp"])
def test_normal_biases_have_unit_variance_and_keep_the_first_weights(kind):
    """``bias_init="normal"``: every layer's biases are N(0, 1) draws (mean 0, variance 1 over
    2 x 2000 + 1 values); the first layer's weights, drawn before its biases from the same
    generator, are those of the zero-bias network."""

    def build(bias_init):
        if kind == "fourier":
            return MultiscaleFourierNet(
                (1.0,), 5, 2, 2000, generator=_gens(6)[0], bias_init=bias_init
            )
        return MLP(2, 2000, generator=_gens(6)[0], bias_init=bias_init)

    zero, normal = build("zeros"), build("normal")
    layers = [*normal.trunk.layers, normal.head]
    biases = torch.cat([layer.bias.detach().reshape(-1) for layer in layers])
    assert len(biases) == 4001
    assert abs(biases.mean().item()) < 0.1 and abs(biases.var().item() - 1.0) < 0.1
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in [*zero.trunk.layers, zero.head])
    assert torch.equal(zero.trunk.layers[0].weight, normal.trunk.layers[0].weight)
    with pytest.raises(ValueError, match="bias_init"):
        build("uniform")


def test_members_equal_the_single_networks_of_their_seeds():
    """Member s of a batched network is the network of seed s alone: same B, weights and output."""
    batched = HardDirichlet(
        MultiscaleFourierNet((1.0, 16.0), 5, 2, 6, generators=_gens(3, 5), n_models=2)
    )
    single = HardDirichlet(MultiscaleFourierNet((1.0, 16.0), 5, 2, 6, generator=_gens(5)[0]))
    assert torch.equal(batched.body.B[1], single.body.B[0])
    x = torch.linspace(0, 1, 11)
    assert torch.allclose(batched(x)[1], single(x)[0], atol=1e-6)
    assert not torch.allclose(batched(x)[0], single(x)[0])


def test_shared_trunk_and_concatenated_head():
    net = MultiscaleFourierNet((1.0, 16.0), n_features=50, depth=2, width=100)
    # one trunk (2 x [100]) for both embeddings, one head on the concatenation 2 * 100 -> 1
    assert net.trunk.layers[0].weight.shape == (1, 100, 100) and net.trunk.layers[
        1
    ].weight.shape == (1, 100, 100)
    assert net.head.weight.shape == (1, 1, 200)
    n = sum(p.numel() for p in net.parameters())
    assert n == 2 * (100 * 100 + 100) + 200 + 1


def test_glorot_initialisation_variance():
    net = MultiscaleFourierNet((1.0,), n_features=200, depth=2, width=400)
    w = net.trunk.layers[1].weight  # 400 x 400: Glorot normal variance 2 / (400 + 400)
    assert abs(w.var().item() - 2.0 / 800.0) < 0.05 * 2.0 / 800.0
    assert torch.count_nonzero(net.trunk.layers[1].bias) == 0


@pytest.mark.parametrize(
    "body", [MultiscaleFourierNet((1.0, 16.0), 10, 2, 20, "swish"), MLP(2, 20)]
)
def test_hard_dirichlet_conditions_are_exact(body):
    net = HardDirichlet(body)
    values = net(torch.tensor([0.0, 1.0, 0.5]))[0]
    assert values[0].item() == 0.0 and values[1].item() == 0.0 and values[2].item() != 0.0


def test_swish_and_unknown_activation_and_convention():
    assert torch.allclose(
        Swish()(torch.tensor([0.0, 2.0])),
        torch.tensor([0.0, 2.0 * torch.sigmoid(torch.tensor(2.0))]),
    )
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 10, "relu")
    with pytest.raises(ValueError, match="scales"):
        MultiscaleFourierNet((1.0, -2.0), 10, 2, 10)
    with pytest.raises(ValueError, match="convention must be one of 'angular', 'literal'"):
        MultiscaleFourierNet((1.0,), 10, 2, 10, convention="radians")
    with pytest.raises(ValueError, match="generators"):
        MLP(2, 10, generators=_gens(0), n_models=2)


def test_flat_boundary_factor_vanishes_at_the_ends_and_is_one_inside():
    body = MLP(1, 4, generators=_gens(0), n_models=1)
    net = HardDirichlet(body, "flat", layer=0.02).double()
    l0, _, _ = net.factor_jet(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert l0[0] == 0.0 and abs(l0[2].item()) < 1e-15 and abs(l0[1].item() - 1.0) < 1e-20
    with pytest.raises(ValueError, match="factor must be one of 'quadratic', 'flat'; got 'cubic'"):
        HardDirichlet(body, "cubic")
