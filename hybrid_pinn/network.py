"""Networks for the fine-scale control v_theta of Sec. 4.4, with hard Dirichlet conditions.

- ``MultiscaleFourierNet``: the multiscale Fourier feature network of Wang, Wang & Perdikaris,
  F^(k)(x) = (cos 2 pi B^(k) x, sin 2 pi B^(k) x), B^(k)_ij ~ N(0, rho_k^2), one trunk shared by
  all embeddings, outputs concatenated into one linear layer.
- ``MLP``: the plain feed-forward network ("V-PINN").
- ``HardDirichlet``: v_theta = x (1 - x) * vbar_theta, so v_theta(0) = v_theta(1) = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Swish", "MultiscaleFourierNet", "MLP", "HardDirichlet", "activation"]


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


def _trunk(n_in: int, depth: int, width: int, sigma: str) -> nn.Sequential:
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
    layers: list[nn.Module] = []
    for i in range(depth):
        linear = nn.Linear(n_in if i == 0 else width, width)
        nn.init.xavier_normal_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear, activation(sigma)]
    return nn.Sequential(*layers)


def _glorot_linear(n_in: int, n_out: int) -> nn.Linear:
    linear = nn.Linear(n_in, n_out)
    nn.init.xavier_normal_(linear.weight)
    nn.init.zeros_(linear.bias)
    return linear


class MultiscaleFourierNet(nn.Module):
    """vbar(x) = W_L [z_L^(1), ..., z_L^(K)] + b_L with z^(k) = trunk(F^(k)(x)), Sec. 4.4.

    Parameters
    ----------
    scales
        The standard deviations rho_k of the Gaussian matrices B^(k) (paper: rho_1 = 1, rho_2 = 1/eps).
    n_features
        m, the number of rows of each B^(k); the embedding has 2m entries.
    trainable_b
        Make the B^(k) trainable parameters instead of frozen buffers.
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
    ):
        super().__init__()
        scales = [float(s) for s in scales]
        if not scales or any(not (math.isfinite(s) and s > 0) for s in scales):
            raise ValueError(f"Fourier scales rho_k must be positive and finite, got {scales}")
        if n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}")
        b = torch.stack([s * torch.randn(n_features, 1, generator=generator) for s in scales])
        if trainable_b:
            self.B = nn.Parameter(b)
        else:
            self.register_buffer("B", b)
        self.trunk = _trunk(2 * n_features, depth, width, sigma)
        self.head = _glorot_linear(len(scales) * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (M, 1) -> projections (K, M, m) -> embeddings (K, M, 2m) -> trunk per scale.
        projection = 2.0 * math.pi * torch.matmul(x, self.B.transpose(1, 2))
        features = torch.cat([torch.cos(projection), torch.sin(projection)], dim=-1)
        z = self.trunk(features)  # the same trunk acts on every embedding
        return self.head(torch.cat(list(z), dim=-1))


class MLP(nn.Module):
    """Plain feed-forward network x -> vbar(x) (the paper's V-PINN), Glorot initialised."""

    def __init__(self, depth: int, width: int, sigma: str = "tanh"):
        super().__init__()
        self.trunk = _trunk(1, depth, width, sigma)
        self.head = _glorot_linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class HardDirichlet(nn.Module):
    """v_theta(x) = x (1 - x) vbar_theta(x): exact homogeneous Dirichlet conditions of (57)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1.0 - x) * self.body(x)
