"""The compression network Ψ(·, θ): a dense ReLU network from R_T(A) to vec(S_{A,T}).

Paper 000, Sec. 4.3, eq. (4.1). For N_H = 32, n = 8, ℓ = 2 the layer widths are
1600 → 1600 → 800 → 800 → 400 → 400 → 144 → 144 → 144 (5 063 504 parameters): two layers
per mesh level bridged between the coarse and the fine grid (one mixing layer of equal width,
one halving layer), then two layers that assemble the local matrix. Other discretizations use
the same rule (:func:`layer_sizes`).

In d dimensions (2 or 3; ``dim``) the input R_T(A) has (2ℓ+1)^d n^d values and the output
S_{A,T} has (2ℓ+2)^d rows and 2^d columns; the width rule is the same (for N_H = 8, n = 4,
ℓ = 1, d = 3: 1728 → 1728 → 864 → 864 → 512 → 512 → 512). The Q1 stiffness on fine cells of
side h carries the factor h^(d−2) (1 in 2-D, 1/(N_H n) in 3-D): the last layer predicts the
matrix of unit cells and a fixed ``output_scale`` = h^(d−2) multiplies it, so the Glorot
initialisation meets labels of its own size in any d (without it the 3-D training stalled at a
loss of 0.3: its first steps, 30 times too large, killed the ReLUs).

Optionally (``structured=True``, off for the paper's network) the output is projected onto
the matrices that keep the exact structure of S_{A,T} on the full padded node set: constants
lie in the kernel on both sides, so every row sums to zero over T's 2^d nodes and every column
over the patch's (2ℓ+2)^d coarse nodes. The projection is the double centering
(I − 11ᵀ/(2ℓ+2)^d) Y (I − 11ᵀ/2^d), which leaves such matrices unchanged; the rows and columns
of nodes that are not interior to D are zeroed afterwards, as in the labels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from plumbing.checks import (
    ArgumentTypeError,
    check_dim,
    check_flag,
    check_real,
    check_size,
)


def input_size(n_sub: int, ell: int, dim: int = 2) -> int:
    """Length r = ((2ℓ+1) n)^d of R_T(A), eq. (3.11)."""
    return ((2 * ell + 1) * n_sub) ** dim


def output_size(ell: int, dim: int = 2) -> int:
    """Length 2^d (2ℓ+2)^d of the column-wise flattened local matrix S_{A,T}, eq. (3.9)."""
    return 2**dim * (2 * ell + 2) ** dim


def layer_sizes(n_sub: int, ell: int, dim: int = 2) -> list[int]:
    """Widths of all layers, input first, for fine-to-coarse ratio n, oversampling ℓ, dimension d.

    ``log2(n)`` levels are bridged: the input width r is kept for one layer and then halved
    once per further level, each width used by two consecutive layers; three layers of the
    output width follow (the last two map output to output).

    Parameters
    ----------
    n_sub : int
        Fine cells per coarse element and side, n (a power of two, at least 2).
    ell : int
        Oversampling layers ℓ of the patches (at least 1).
    dim : int
        Space dimension d, 2 or 3.

    Returns
    -------
    list of int
        Input width r = ((2ℓ+1) n)^d (the patch's fine cells), then the hidden widths, then
        the output width (2ℓ+2)^d 2^d (the entries of S_{A,T}).

    Examples
    --------
    Paper 000's network (n = 8, ℓ = 2, d = 2):

    >>> layer_sizes(8, 2)
    [1600, 1600, 800, 800, 400, 400, 144, 144, 144]
    >>> layer_sizes(4, 1, dim=3)
    [1728, 1728, 864, 864, 512, 512, 512]
    """
    n_sub, ell, dim = check_size("n_sub", n_sub), check_size("ell", ell), check_dim(dim)
    if n_sub < 2 or n_sub & (n_sub - 1):
        raise ValueError(f"n_sub = {n_sub}: the network rule needs a power of two >= 2")
    r, s = input_size(n_sub, ell, dim), output_size(ell, dim)
    levels = int(math.log2(n_sub))
    sizes = [r, r]
    for k in range(1, levels):
        sizes += [r >> k, r >> k]
    return sizes + [s, s, s]


def double_center(y: torch.Tensor, columns: int = 4) -> torch.Tensor:
    """Rows and columns of column-wise flattened matrices ``(B, columns · rows)`` made to sum to 0.

    Y ↦ (I − 11ᵀ/rows) Y (I − 11ᵀ/columns): the orthogonal projection onto the matrices with zero
    row and column sums, so an exact local matrix on the full node set passes unchanged.
    ``columns`` is 2^d, the nodes of T (4 in 2-D, 8 in 3-D).
    """
    cols = y.reshape(y.shape[0], columns, -1)  # column j of S_{A,T} is cols[:, j]
    centred = cols - cols.mean(dim=2, keepdim=True)
    centred = centred - centred.mean(dim=1, keepdim=True)
    return centred.reshape(y.shape)


def project_onto_structure(y: torch.Tensor, mask: torch.Tensor, columns: int = 4) -> torch.Tensor:
    """The orthogonal projection of outputs ``(B, columns · rows)`` onto the local matrices with
    the structure of the labels: zero where ``mask`` is, and zero sums along every line (row over
    T's ``columns`` nodes, column over the patch's nodes) that the mask leaves whole.

    A patch inside D is double-centred (:func:`double_center`); in a patch that crosses ∂D around
    an interior T only the rows of interior patch nodes are whole, each centred over T's nodes; a
    T on ∂D leaves no line whole. Applied to a plain network after training, this removes the
    row-sum bias and nothing the labels allow (the exact local matrices pass unchanged).
    """
    masked = y * mask
    whole = mask.reshape(y.shape[0], columns, -1).bool()
    whole_rows = whole.all(dim=1, keepdim=True)  # (B, 1, rows): patch node i sees all of T
    cols = masked.reshape(whole.shape)
    rows_centred = torch.where(whole_rows, cols - cols.mean(dim=1, keepdim=True), cols)
    whole_patch = whole.all(dim=(1, 2)).reshape(-1, 1)
    return torch.where(whole_patch, double_center(masked, columns), rows_centred.reshape(y.shape))


class CompressionNetwork(nn.Module):
    """Ψ(x) = W⁽ᴸ⁾ρ(…ρ(W⁽¹⁾x + b⁽¹⁾)…) + b⁽ᴸ⁾, ReLU ρ, identity last layer, eq. (4.1).

    With ``structured`` the output is ``mask ∘ double_center(Ψ(x))``, ``mask`` the 0/1 entries of
    S_{A,T} that belong to nodes interior to D (given per patch to ``forward``). ``dim`` is the
    space dimension d of the patches (the structured output has 2^d columns); ``output_scale``
    the fixed factor h^(d−2) of the output (1.0, none, in 2-D; see the module's docstring).

    Parameters
    ----------
    sizes : list of int
        Layer widths from input to output, e.g. ``layer_sizes(n_sub, ell, dim)``: the input
        ((2ℓ+1) n)^d is a flattened patch R_T(A) (``lod_fenicsx.patch``), the output
        2^d (2ℓ+2)^d a column-wise flattened S_{A,T}.
    structured : bool
        Project the output onto the matrices with zero row and column sums (``double_center``)
        and multiply it by the ``mask`` passed to ``forward``.
    dim : int
        The space dimension d, 2 or 3.
    output_scale : float
        Fixed factor of the output.

    Raises
    ------
    ValueError
        If ``sizes`` has fewer than two entries, ``dim`` is not 2 or 3, or a structured output
        width is not a multiple of 2^d.

    Examples
    --------
    >>> import torch
    >>> model = CompressionNetwork(layer_sizes(4, 1), structured=True)
    >>> y = model(torch.rand(3, 144))  # 3 patches of 12 x 12 fine cells
    >>> y.shape  # 3 flattened S_{A,T}: 4 columns of 16 rows
    torch.Size([3, 64])
    >>> bool(y.reshape(3, 4, 16).sum(dim=-1).abs().max() < 1e-5)  # zero column sums
    True
    """

    def __init__(
        self, sizes: list[int], structured: bool = False, dim: int = 2, output_scale: float = 1.0
    ):
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise ArgumentTypeError(f"sizes must be a list of layer widths, got {sizes!r}")
        sizes = [check_size("sizes", width) for width in sizes]
        if len(sizes) < 2:
            raise ValueError(f"sizes {sizes}: need at least an input and an output width")
        structured = check_flag("structured", structured)
        self.dim = check_dim(dim)
        output_scale = check_real("output_scale", output_scale, positive=True)
        if structured and sizes[-1] % 2**self.dim:
            raise ValueError(
                f"structured output needs {2**self.dim} columns ({self.dim}-D); output width "
                f"{sizes[-1]}"
            )
        self.sizes = list(sizes)
        self.structured = bool(structured)
        # A plain attribute, not a buffer: state dicts of 2-D networks stay as they were.
        self.output_scale = float(output_scale)
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
        if self.output_scale != 1.0:
            y = y * self.output_scale
        if self.structured:
            y = double_center(y, 2**self.dim)
            if mask is not None:
                y = y * mask
        return y


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
