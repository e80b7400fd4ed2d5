"""Networks for the fine-scale control v_theta of Sec. 4.4, with hard Dirichlet conditions.

- ``MultiscaleFourierNet``: the multiscale Fourier feature network of Wang, Wang & Perdikaris,
  F^(k)(x) = (cos(w B^(k) x), sin(w B^(k) x)), B^(k)_ij ~ N(0, rho_k^2), one trunk shared by all
  embeddings, outputs concatenated into one linear layer; w = 1 or 2 pi (``FOURIER_CONVENTIONS``).
- ``MLP``: the plain feed-forward network ("V-PINN").
- ``HardDirichlet``: v_theta = x (1 - x) * vbar_theta, so v_theta(0) = v_theta(1) = 0.

Every network holds ``n_models`` independent members (one per seed) with a leading member axis
on each parameter; member s is initialised from its own generator, so it equals the single
network of that seed, and since Adam acts elementwise, training the sum of the members' losses
trains each member as if it were alone. A forward call returns shape (n_models, M).

``jet(x)`` returns v, v' and v'' in one forward pass by propagating the derivatives through the
layers in closed form (a Taylor-mode pass: z' = W h', z'' = W h'', sigma(z)' = sigma'(z) z',
sigma(z)'' = sigma'(z) z'' + sigma''(z) z'^2). The PINN loss then needs one backward pass for
theta instead of autograd's double backward in x followed by a third for theta.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from plumbing.checks import (
    ArgumentTypeError,
    check_choice,
    check_flag,
    check_instance,
    check_real,
    check_size,
)

__all__ = [
    "BIAS_INITS",
    "FOURIER_CONVENTIONS",
    "Swish",
    "activation",
    "activation_jet",
    "BatchedLinear",
    "MultiscaleFourierNet",
    "MLP",
    "HardDirichlet",
]

# Factor w in the embedding cos(w B x), sin(w B x). Sec. 4.4 writes cos(2 pi B x) ("literal");
# Wang, Wang & Perdikaris' public code, which the paper cites for the architecture, uses
# cos(B x) ("angular"), i.e. rho_k is an angular frequency.
#: Fourier-feature conventions: name -> the factor w of the embedding cos(w B x), sin(w B x).
FOURIER_CONVENTIONS = {"angular": 1.0, "literal": 2.0 * math.pi}


class Swish(nn.Module):
    """swish(x) = x * sigmoid(b x), here with b = 1 as in the paper's eps = 1/64 runs."""

    def __init__(self, b: float = 1.0):
        super().__init__()
        self.b = b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.b * x)


def activation(name: str) -> nn.Module:
    """The activation sigma by name: ``tanh`` or ``swish``."""
    if name == "tanh":
        return nn.Tanh()
    if name == "swish":
        return Swish(1.0)
    raise ValueError(f"unknown activation {name!r}; use 'tanh' or 'swish'")


def _tanh_jet(z: list[torch.Tensor]) -> list[torch.Tensor]:
    t = torch.tanh(z[0])
    if len(z) == 1:
        return [t]
    d1 = 1.0 - t * t  # tanh' = 1 - tanh^2, tanh'' = -2 tanh tanh'
    out = [t, d1 * z[1]]
    if len(z) == 3:
        out.append(d1 * (z[2] - 2.0 * t * z[1] * z[1]))
    return out


def _swish_jet(z: list[torch.Tensor]) -> list[torch.Tensor]:
    s = torch.sigmoid(z[0])
    if len(z) == 1:
        return [z[0] * s]
    ds = s * (1.0 - s)
    d1 = s + z[0] * ds  # swish' ; swish'' = s (1 - s)(2 + z (1 - 2 s))
    out = [z[0] * s, d1 * z[1]]
    if len(z) == 3:
        d2 = ds * (2.0 + z[0] * (1.0 - 2.0 * s))
        out.append(d1 * z[2] + d2 * z[1] * z[1])
    return out


def activation_jet(name: str):
    """sigma applied to a jet [z, z', z''] (each (S, R, n); shorter lists for lower orders)."""
    if name == "tanh":
        return _tanh_jet
    if name == "swish":
        return _swish_jet
    raise ValueError(f"sigma: unknown activation {name!r}; use 'tanh' or 'swish'")


def check_scales(scales) -> tuple[float, ...]:
    """The Fourier scales rho_k: a non-empty sequence of positive finite real numbers."""
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise ArgumentTypeError(f"scales must be a sequence of numbers rho_k, got {scales!r}")
    scales = tuple(check_real("scales", s, positive=True) for s in scales)
    if not scales:
        raise ValueError("scales is empty: give at least one Fourier scale rho_k")
    return scales


def _generators(generator, generators, n_models: int) -> list[torch.Generator | None]:
    n_models = check_size("n_models", n_models)
    check_instance("generator", generator, (torch.Generator, type(None)), "torch.Generator")
    if generators is not None:
        generators = list(generators)
        for g in generators:
            check_instance("generators", g, (torch.Generator, type(None)), "torch.Generator")
        if len(generators) != n_models:
            raise ValueError(f"{len(generators)} generators for n_models = {n_models}")
        return generators
    if n_models != 1 and generator is not None:
        raise ValueError("several members need one generator each (generators=[...])")
    return [generator] * n_models


# How the biases start: the paper does not say; "zeros" (default) or "normal", N(0, 1) as in
# Wang, Wang & Perdikaris' public code (drawn from the member's generator after its weights).
BIAS_INITS = ("zeros", "normal")


class BatchedLinear(nn.Module):
    """z = W h + b for n_models members at once: W (S, out, in), b (S, out);
    Glorot normal W, b as ``bias_init`` says (``BIAS_INITS``)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        generators: Sequence[torch.Generator | None],
        bias_init: str = "zeros",
    ):
        super().__init__()
        check_choice("bias_init", bias_init, BIAS_INITS)
        std = math.sqrt(2.0 / (n_in + n_out))  # Glorot (Xavier) normal, as Sec. 4.5 says
        normal = bias_init == "normal"
        weights, biases = [], []
        for g in generators:
            weights.append(std * torch.randn(n_out, n_in, generator=g))
            biases.append(torch.randn(n_out, generator=g) if normal else torch.zeros(n_out))
        self.weight = nn.Parameter(torch.stack(weights))
        self.bias = nn.Parameter(torch.stack(biases))

    def jet(self, h: list[torch.Tensor]) -> list[torch.Tensor]:
        """[h, h', h''] (each (S, R, in)) -> [z, z', z''] (each (S, R, out)); the bias
        enters z only.

        One product per derivative order: stacking them into one product costs a copy forward
        and a zero-filled slice backward, more than the larger product saves.
        """
        weight = self.weight.transpose(1, 2)
        return [torch.baddbmm(self.bias[:, None, :], h[0], weight)] + [
            torch.bmm(d, weight) for d in h[1:]
        ]


class _Trunk(nn.Module):
    """depth x [width] layers z_l = sigma(W_l z_{l-1} + b_l),
    shared by all embeddings of a member."""

    def __init__(
        self, n_in: int, depth: int, width: int, sigma: str, generators, bias_init: str = "zeros"
    ):
        super().__init__()
        depth, width = check_size("depth", depth), check_size("width", width)
        self.sigma = activation_jet(sigma)
        self.layers = nn.ModuleList(
            BatchedLinear(n_in if i == 0 else width, width, generators, bias_init)
            for i in range(depth)
        )

    def jet(self, h: list[torch.Tensor]) -> list[torch.Tensor]:
        for layer in self.layers:
            h = self.sigma(layer.jet(h))
        return h


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1)


class MultiscaleFourierNet(nn.Module):
    """vbar(x) = W_L [z_L^(1), ..., z_L^(K)] + b_L with z^(k) = trunk(F^(k)(x)), Sec. 4.4.

    Parameters
    ----------
    scales
        The standard deviations rho_k of the Gaussian matrices B^(k)
        (paper: rho_1 = 1, rho_2 = 1/eps).
    n_features
        m, the number of rows of each B^(k); the embedding has 2m entries.
    convention
        ``"angular"``: F = (cos B x, sin B x); ``"literal"``: F = (cos 2 pi B x, sin 2 pi B x) as
        printed in Sec. 4.4. See ``FOURIER_CONVENTIONS``; the choice of the paper runs is made in
        ``hybrid_pinn.training.TrainingConfig``.
    trainable_b
        Make the B^(k) trainable parameters instead of frozen buffers.
    n_models, generators
        Number of independent members and one generator per member (``generator`` for one).
    bias_init
        ``"zeros"`` or ``"normal"`` (``BIAS_INITS``), for every layer.
    normalize_input
        Embed (x - 1/2) / sqrt(1/12), x standardised by the mean and standard deviation of the
        uniform distribution on (0, 1), as Wang et al.'s code standardises its inputs (not in the
        paper); the effective angular frequency of a row of B is then sqrt(12) times larger.
    """

    def __init__(
        self,
        scales: Sequence[float],
        n_features: int,
        depth: int,
        width: int,
        sigma: str = "tanh",
        trainable_b: bool = False,
        generator: torch.Generator | None = None,
        convention: str = "angular",
        n_models: int = 1,
        generators: Sequence[torch.Generator] | None = None,
        bias_init: str = "zeros",
        normalize_input: bool = False,
    ):
        super().__init__()
        scales = check_scales(scales)
        n_features = check_size("n_features", n_features)
        check_choice("convention", convention, tuple(FOURIER_CONVENTIONS))  # Fourier convention
        trainable_b = check_flag("trainable_b", trainable_b)
        normalize_input = check_flag("normalize_input", normalize_input)
        self.convention = convention
        # x -> (x - center) / spread before the embedding
        self.center, self.spread = (0.5, math.sqrt(1.0 / 12.0)) if normalize_input else (0.0, 1.0)
        # angular frequency per unit x of a unit row of B, fixed for the network's life
        self.frequency_factor = FOURIER_CONVENTIONS[convention] / self.spread
        gens = _generators(generator, generators, n_models)
        # B: (S, K, m); each member draws its B first, then its layer weights (in _Trunk, head).
        b = torch.stack(
            [torch.stack([s * torch.randn(n_features, generator=g) for s in scales]) for g in gens]
        )
        if trainable_b:
            self.B = nn.Parameter(b)
        else:
            self.register_buffer("B", b)
        self.trunk = _Trunk(2 * n_features, depth, width, sigma, gens, bias_init)
        self.head = BatchedLinear(len(scales) * width, 1, gens, bias_init)
        self.n_models = n_models

    def features(self, x: torch.Tensor, order: int) -> list[torch.Tensor]:
        """Jet of the embeddings: ``order + 1`` tensors (S, K * M, 2m) for x of shape (M,)."""
        s, k, m = self.B.shape
        frequency = self.frequency_factor * self.B[:, :, None, :]  # (S, K, 1, m)
        phase = (x - self.center)[None, None, :, None] * frequency  # (S, K, M, m)
        cos, sin = torch.cos(phase), torch.sin(phase)
        jet = [torch.cat([cos, sin], dim=-1)]
        if order >= 1:
            jet.append(torch.cat([-frequency * sin, frequency * cos], dim=-1))
        if order >= 2:
            jet.append(-(torch.cat([frequency, frequency], dim=-1) ** 2) * jet[0])
        return [f.reshape(s, k * len(x), 2 * m) for f in jet]

    def jet(self, x: torch.Tensor, order: int = 2) -> torch.Tensor:
        """vbar and its first ``order`` derivatives in x: shape (S, order + 1, M)."""
        x = _flat(x)
        s, k, _ = self.B.shape
        # z^(k) for all k, reordered to [z^(1), ..., z^(K)] per point, then W_L.
        z = [
            zj.reshape(s, k, len(x), -1).transpose(1, 2).reshape(s, len(x), -1)
            for zj in self.trunk.jet(self.features(x, order))
        ]
        return torch.stack(self.head.jet(z), dim=1)[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.jet(x, order=0)[:, 0]


class MLP(nn.Module):
    """Plain feed-forward network x -> vbar(x) (the paper's V-PINN), Glorot initialised.

    ``n_models`` members (one per seed) are evaluated side by side; ``jet(x)`` gives vbar, vbar'
    and vbar'' in one closed-form pass, as ``MultiscaleFourierNet`` does.

    Parameters
    ----------
    depth : int
        Hidden layers.
    width : int
        Neurons per hidden layer.
    sigma : str
        Activation: ``"tanh"`` (default) or ``"swish"``.
    generator : torch.Generator, optional
        Source of the initial weights of a single member.
    n_models : int
        Members S, used when ``generators`` is not given.
    generators : sequence of torch.Generator, optional
        One generator per member (their number is S).
    bias_init : str
        ``"zeros"`` (default) or ``"normal"`` (N(0, 1)).

    Examples
    --------
    >>> import torch
    >>> net = MLP(2, 10, generator=torch.Generator().manual_seed(0))
    >>> x = torch.linspace(0.0, 1.0, 5)
    >>> net(x).shape, net.jet(x).shape  # (S, M) and (S, 3, M)
    (torch.Size([1, 5]), torch.Size([1, 3, 5]))
    """

    def __init__(
        self,
        depth: int,
        width: int,
        sigma: str = "tanh",
        generator: torch.Generator | None = None,
        n_models: int = 1,
        generators: Sequence[torch.Generator] | None = None,
        bias_init: str = "zeros",
    ):
        super().__init__()
        gens = _generators(generator, generators, n_models)
        self.trunk = _Trunk(1, depth, width, sigma, gens, bias_init)
        self.head = BatchedLinear(width, 1, gens, bias_init)
        self.n_models = n_models

    def jet(self, x: torch.Tensor, order: int = 2) -> torch.Tensor:
        """vbar and its first ``order`` derivatives at x: shape (S, order + 1, M)."""
        x = _flat(x)
        s = self.n_models
        rows = [x, torch.ones_like(x), torch.zeros_like(x)][: order + 1]  # the jet of the input x
        h = [r.reshape(1, len(x), 1).expand(s, -1, -1) for r in rows]
        return torch.stack(self.head.jet(self.trunk.jet(h)), dim=1)[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.jet(x, order=0)[:, 0]


class HardDirichlet(nn.Module):
    """v_theta(x) = l(x) vbar_theta(x): exact homogeneous Dirichlet conditions of (57).

    ``factor``: ``"quadratic"`` l = x (1 - x) (Sec. 4.4, the default), or ``"flat"``
    l = tanh(x / a) tanh((1 - x) / a) with a = ``layer`` (not in the paper): 1 up to boundary
    layers of width ~a, so that an oscillation of vbar with a constant amplitude stays one in v.

    Parameters
    ----------
    body : torch.nn.Module
        The network vbar, with ``jet(x, order)`` -> (S, order + 1, M) and ``n_models``
        (``MLP``, ``MultiscaleFourierNet``).
    factor : str
        ``"quadratic"`` or ``"flat"`` (``FACTORS``).
    layer : float
        The boundary-layer width a of ``"flat"``.

    Raises
    ------
    ValueError
        If ``factor`` is not one of ``FACTORS``.

    Examples
    --------
    >>> import torch
    >>> v = HardDirichlet(MLP(2, 10, generator=torch.Generator().manual_seed(0)))
    >>> v(torch.tensor([0.0, 0.5, 1.0]))[0, [0, 2]].tolist()  # v(0) = v(1) = 0
    [0.0, 0.0]
    """

    FACTORS = ("quadratic", "flat")

    def __init__(self, body: nn.Module, factor: str = "quadratic", layer: float = 0.05):
        super().__init__()
        if not (isinstance(body, nn.Module) and callable(getattr(body, "jet", None))):
            raise ArgumentTypeError(
                f"body must be a network with jet(x, order) (MLP, MultiscaleFourierNet), got "
                f"{type(body).__name__}"
            )
        check_choice("factor", factor, self.FACTORS)  # the boundary factor
        layer = check_real("layer", layer, positive=True)
        self.body, self.factor, self.layer = body, factor, layer

    @property
    def n_models(self) -> int:
        return self.body.n_models

    def factor_jet(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """l, l', l'' at x."""
        if self.factor == "quadratic":
            return x * (1.0 - x), 1.0 - 2.0 * x, torch.full_like(x, -2.0)
        a = self.layer
        left, right = torch.tanh(x / a), torch.tanh((1.0 - x) / a)
        left1, right1 = (1.0 - left**2) / a, -(1.0 - right**2) / a
        left2, right2 = -2.0 * left * left1 / a, 2.0 * right * right1 / a
        return (
            left * right,
            left1 * right + left * right1,
            left2 * right + 2.0 * left1 * right1 + left * right2,
        )

    def jet(self, x: torch.Tensor, order: int = 2) -> torch.Tensor:
        """v, v', v'' by the Leibniz rule: shape (S, order + 1, M)."""
        x = _flat(x)
        vbar = self.body.jet(x, order)
        l0, l1, l2 = self.factor_jet(x)
        out = [l0 * vbar[:, 0]]
        if order >= 1:
            out.append(l1 * vbar[:, 0] + l0 * vbar[:, 1])
        if order >= 2:
            out.append(l2 * vbar[:, 0] + 2.0 * l1 * vbar[:, 1] + l0 * vbar[:, 2])
        return torch.stack(out, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.jet(x, order=0)[:, 0]
