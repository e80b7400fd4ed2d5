"""The compression network Ψ(·, θ): a dense ReLU network from R_T(A) to vec(S_{A,T}).

Paper 000, Sec. 4.3, eq. (4.1). For N_H = 32, n = 8, ℓ = 2 the layer widths are
1600 → 1600 → 800 → 800 → 400 → 400 → 144 → 144 → 144 (5 063 504 parameters): two layers
per mesh level bridged between the coarse and the fine grid (one mixing layer of equal width,
one halving layer), then two layers that assemble the local matrix. Other discretizations use
the same rule (:func:`layer_sizes`).

Optionally (``structured=True``, off for the paper's network) the output is projected onto
the matrices that keep the exact structure of S_{A,T} on the full padded node set: constants
lie in the kernel on both sides, so every row sums to zero over T's 4 nodes and every column
over the patch's (2ℓ+2)² coarse nodes. The projection is the double centering
(I − 11ᵀ/s²) Y (I − 11ᵀ/4), which leaves such matrices unchanged; the rows and columns of nodes
that are not interior to D are zeroed afterwards, as in the labels.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def input_size(n_sub: int, ell: int) -> int:
    """Length r = ((2ℓ+1) n)^2 of R_T(A), eq. (3.11)."""
    return ((2 * ell + 1) * n_sub) ** 2


def output_size(ell: int) -> int:
    """Length 4 (2ℓ+2)^2 of the column-wise flattened local matrix S_{A,T}, eq. (3.9)."""
    return 4 * (2 * ell + 2) ** 2


def layer_sizes(n_sub: int, ell: int) -> list[int]:
    """Widths of all layers, input first, for fine-to-coarse ratio n and oversampling ℓ.

    ``log2(n)`` levels are bridged: the input width r is kept for one layer and then halved
    once per further level, each width used by two consecutive layers; three layers of the
    output width follow (the last two map output to output).
    """
    if n_sub < 2 or n_sub & (n_sub - 1):
        raise ValueError(f"n_sub = {n_sub}: the network rule needs a power of two >= 2")
    if ell < 1:
        raise ValueError(f"ell = {ell}: the oversampling must be at least 1")
    r, s = input_size(n_sub, ell), output_size(ell)
    levels = int(math.log2(n_sub))
    sizes = [r, r]
    for k in range(1, levels):
        sizes += [r >> k, r >> k]
    return sizes + [s, s, s]


def double_center(y: torch.Tensor) -> torch.Tensor:
    """Rows and columns of column-wise flattened 4-column matrices ``(B, 4 s²)`` made to sum to 0.

    Y ↦ (I − 11ᵀ/s²) Y (I − 11ᵀ/4): the orthogonal projection onto the matrices with zero row
    and column sums, so an exact local matrix on the full node set passes unchanged.
    """
    cols = y.reshape(y.shape[0], 4, -1)  # column j of S_{A,T} is cols[:, j]
    centred = cols - cols.mean(dim=2, keepdim=True)
    centred = centred - centred.mean(dim=1, keepdim=True)
    return centred.reshape(y.shape)


class CompressionNetwork(nn.Module):
    """Ψ(x) = W⁽ᴸ⁾ρ(…ρ(W⁽¹⁾x + b⁽¹⁾)…) + b⁽ᴸ⁾, ReLU ρ, identity last layer, eq. (4.1).

    With ``structured`` the output is ``mask ∘ double_center(Ψ(x))``, ``mask`` the 0/1 entries of
    S_{A,T} that belong to nodes interior to D (given per patch to ``forward``).
    """

    def __init__(self, sizes: list[int], structured: bool = False):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"layer sizes {sizes}: need at least an input and an output width")
        if structured and sizes[-1] % 4:
            raise ValueError(f"structured output needs 4 columns; output width {sizes[-1]}")
        self.sizes = list(sizes)
        self.structured = bool(structured)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and biases, as in the paper (Flux's default initialiser)."""
        for layer in self.layers:
            nn.init.xavier_uniform_(layer.weight)
            # Flux initialises biases with zeros; keep that rather than PyTorch's uniform bias.
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Ψ(x); ``mask`` (0/1 like the output) is used by the structured network only."""
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        y = self.layers[-1](x)
        if self.structured:
            y = double_center(y)
            if mask is not None:
                y = y * mask
        return y


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
