"""Torch backend of ``PatchSolver``: whole batches of patches at once, on the CPU or a GPU.

Imports torch, NumPy and SciPy only (no DOLFINx, no PETSc), so that training data can be made
where the network is trained. Float64 throughout.

The fine unknowns of the padded patch are the (m−1) x (m−1) nodes strictly inside it,
numbered line by line (y outer, x inner). The Q1 stiffness couples a node only to its 8
neighbours, so K is block tridiagonal: diagonal blocks K_{i,i} (line i with itself) and
sub-diagonal blocks K_{i+1,i}, each (m−1) x (m−1) and tridiagonal. Per patch:

1. Block Cholesky, line by line: L_i L_i^T = K_{i,i} − M_{i−1} M_{i−1}^T, M_i = K_{i+1,i} L_i^{-T},
   with the forward substitution Z = L^{-1} [C^T b] carried along (s² + 4 right-hand sides).
2. Schur complement of the constraints: (Z_C^T Z_C) μ = Z_C^T Z_b (s² x s², Cholesky).
3. Backward substitution Q = L^{-T} (Z_b − Z_C μ).
4. S_{A,T} = P^T (K_T(A) P λ_T − K(A) Q), both stiffness products applied cell by cell.

Every step is a batched dense operation on (batch, m−1, m−1) tensors; the loop runs over the
m−1 lines, never over patches or cells. Fine nodes outside D or on ∂D and multipliers of
coarse nodes not interior to D are eliminated by unit rows, through per-patch masks, so that
patches of every position relative to ∂D share one batch.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np
import torch

from lod_fenicsx.interpolation import patch_interpolation_matrix, prolongation_1d
from lod_fenicsx.patch import constrained_coarse_nodes, free_fine_nodes
from lod_fenicsx.q1 import reference_element_matrices
from plumbing.checks import check_device, check_optional_size, check_size
from plumbing.threads import blas_threads
from plumbing.timing import phase

DEFAULT_BATCH = {"cpu": 32, "cuda": 2048}


def bytes_per_patch(n_sub: int, ell: int) -> int:
    """Memory of one patch in a batch (float64): the line factors L_i and M_i, z = L^{-1} [C^T b],
    the stencil, loads and correctors (2.6 MB for n = 8, ℓ = 2)."""
    m, s = (2 * ell + 1) * n_sub, 2 * ell + 2
    return 8 * (2 * (m - 1) ** 3 + (m - 1) ** 2 * (2 * s * s + 9) + 48 * (m + 1) ** 2)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA if available, else the CPU; one clear ValueError for a device torch does
    not know or this machine lacks (``plumbing.checks.check_device``, named as ``--device``)."""
    return check_device("device", device, flag="--device")


def apply_stiffness(k_ref: torch.Tensor, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """K(a) v on a structured grid, cell by cell: ``a (B, ny, nx)``, ``v (B, ny+1, nx+1, r)``.

    ``v`` may also have a leading batch dimension of 1 (broadcast). Returns ``(B, ny+1, nx+1, r)``.
    """
    corners = (v[:, :-1, :-1], v[:, :-1, 1:], v[:, 1:, :-1], v[:, 1:, 1:])  # local nodes 0..3
    a = a[..., None]
    out = torch.zeros((a.shape[0], *v.shape[1:]), dtype=a.dtype, device=a.device)
    slices = (
        (slice(None, -1), slice(None, -1)),
        (slice(None, -1), slice(1, None)),
        (slice(1, None), slice(None, -1)),
        (slice(1, None), slice(1, None)),
    )
    for p, (sy, sx) in enumerate(slices):
        force = sum(k_ref[p, q] * corners[q] for q in range(4))
        out[:, sy, sx] += a * force
    return out


def _tridiagonal(main: torch.Tensor, upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """Batched tridiagonal matrices ``(B, k, k)`` from their three diagonals."""
    out = main.new_zeros((*main.shape, main.shape[-1]))
    out.diagonal(0, -2, -1).copy_(main)
    out.diagonal(1, -2, -1).copy_(upper)
    out.diagonal(-1, -2, -1).copy_(lower)
    return out


class TorchBackend:
    """Correctors by batched block-tridiagonal Cholesky (torch, CPU or CUDA, float64).

    Parameters
    ----------
    n_sub, ell : fine cells per coarse element and oversampling layers of the reference patch.
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    batch_size : patches per batch (default 32 on the CPU, 2048 on a GPU, fewer where a quarter of
        the free memory would not hold them); the memory is ``batch_size * bytes_per_patch``.
    """

    name = "torch"

    def __init__(self, n_sub: int, ell: int, device="auto", batch_size: int | None = None):
        self.n_sub, self.ell = check_size("n_sub", n_sub), check_size("ell", ell, 0)
        self.device = resolve_device(device)
        batch_size = check_optional_size("batch_size", batch_size)
        if batch_size is None:
            batch_size = DEFAULT_BATCH.get(self.device.type, 256)
            if self.device.type == "cuda":
                free = torch.cuda.mem_get_info(self.device)[0]
                batch_size = max(1, min(batch_size, free // 4 // bytes_per_patch(n_sub, ell)))
        self.batch_size = int(batch_size)
        n, ell = self.n_sub, self.ell
        self.m = m = (2 * ell + 1) * n
        self.s = s = 2 * ell + 2
        self.lines = m - 1  # fine unknowns per line, and lines
        if self.lines < 1:
            raise ValueError(
                f"a patch of (2ℓ+1) n = {m} fine cell(s) per side has no interior fine nodes"
            )
        opts = {"dtype": torch.float64, "device": self.device}
        k_ref, _ = reference_element_matrices()
        self.k_ref = torch.tensor(k_ref, **opts)
        # C^T of the padded patch's I_H on the unknowns, line by line: (m−1, m−1, s²).
        jy, jx = np.divmod(np.arange((m + 1) ** 2), m + 1)
        interior = (jy > 0) & (jy < m) & (jx > 0) & (jx < m)
        c_int = patch_interpolation_matrix(ell, n)[:, interior]
        self.c_t = torch.as_tensor(c_int.T.reshape(m - 1, m - 1, s * s), **opts)
        self.p1 = torch.as_tensor(prolongation_1d(2 * ell + 1, n), **opts)  # (m+1, s)
        # T's 4 hats on T's (n+1)^2 fine nodes, columns in the order of S_{A,T}.
        t1 = torch.linspace(0.0, 1.0, n + 1, **opts)
        h = torch.stack((1.0 - t1, t1), dim=1)  # (n+1, 2): 1-D hats of T's two nodes
        self.hats_t = torch.einsum("ya,xb->yxab", h, h).reshape(1, n + 1, n + 1, 4)
        self._masks: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self.timings = defaultdict(float)

    def close(self):
        self._masks.clear()

    def _batch_masks(self, keys) -> tuple[torch.Tensor, torch.Tensor]:
        """Free fine unknowns ``(B, m−1, m−1)`` and constrained coarse nodes ``(B, s²)``, 0/1."""
        free, constrained = [], []
        for key in map(tuple, np.asarray(keys).tolist()):
            if key not in self._masks:
                opts = {"dtype": torch.float64, "device": self.device}
                self._masks[key] = (
                    torch.as_tensor(free_fine_nodes(key, self.n_sub, self.ell), **opts),
                    torch.as_tensor(constrained_coarse_nodes(key, self.ell), **opts),
                )
            f, c = self._masks[key]
            free.append(f)
            constrained.append(c)
        lines = self.lines
        return torch.stack(free).reshape(-1, lines, lines), torch.stack(constrained)

    def _stencil(self, a: torch.Tensor, free: torch.Tensor):
        """Couplings of every unknown (y, x) to its neighbours, each ``(B, m−1, m−1)``.

        Returns (diagonal, east (y, x+1), north (y+1, x), north-east (y+1, x+1),
        north-west (y+1, x−1)); the others follow by symmetry. Couplings of eliminated
        unknowns are zero and their diagonal is 1 (unit rows).
        """
        k = self.k_ref
        sw, se, nw, ne = (
            a[:, :-1, :-1],
            a[:, :-1, 1:],
            a[:, 1:, :-1],
            a[:, 1:, 1:],
        )  # cells around (y, x)
        diag = (k[3, 3] * sw + k[2, 2] * se + k[1, 1] * nw + k[0, 0] * ne) * free + (1.0 - free)
        east = (k[2, 3] * se + k[0, 1] * ne) * free
        east[:, :, :-1] *= free[:, :, 1:]
        north = (k[1, 3] * nw + k[0, 2] * ne) * free
        north[:, :-1] *= free[:, 1:]
        north_east = k[0, 3] * ne * free
        north_east[:, :-1, :-1] *= free[:, 1:, 1:]
        north_west = k[1, 2] * nw * free
        north_west[:, :-1, 1:] *= free[:, 1:, :-1]
        return diag, east, north, north_east, north_west

    def solve(self, keys, windows, want_correctors: bool):
        """Unmasked S_{A,T} ``(k, s^2, 4)`` of k patches and, if wanted, their correctors.

        The correctors Q_T λ_j: ``(k, (m+1)^2, 4)``.
        """
        # On the CPU torch calls LAPACK/BLAS once per small matrix: BLAS threads only fight
        # torch's own (2 of each were 5x slower than torch threads alone).
        with (
            phase(self.timings, "batched_solve"),
            blas_threads(1) if self.device.type == "cpu" else contextlib.nullcontext(),
        ):
            local, corr = self._solve(keys, windows, want_correctors)
        return local, corr

    def _solve(self, keys, windows, want_correctors: bool):
        m, n, ell, s, lines = self.m, self.n_sub, self.ell, self.s, self.lines
        a = torch.as_tensor(np.asarray(windows), dtype=torch.float64).to(self.device)
        a = a.reshape(-1, m, m)
        batch = a.shape[0]
        free, constrained = self._batch_masks(keys)
        diag, east, north, north_east, north_west = self._stencil(a, free)

        # Element loads b_j = K(A χ_T) P λ_j on all patch nodes (nonzero on T's nodes only).
        t_cells = slice(ell * n, (ell + 1) * n)
        t_nodes = slice(ell * n, (ell + 1) * n + 1)
        load = torch.zeros((batch, m + 1, m + 1, 4), dtype=a.dtype, device=a.device)
        load[:, t_nodes, t_nodes] = apply_stiffness(self.k_ref, a[:, t_cells, t_cells], self.hats_t)
        c_t = self.c_t[None] * constrained[:, None, None, :]  # constraints of interior nodes only

        # 1. Block Cholesky K = L L^T, line by line, with the forward substitution
        #    z = L^{-1} [C^T b] and its Gram matrix z^T z = [C K^-1 C^T, C K^-1 b; ., .].
        chol, coupling, z = [], [], []
        gram = torch.zeros((batch, s * s + 4, s * s + 4), dtype=a.dtype, device=a.device)
        failed = torch.zeros(batch, dtype=torch.bool, device=a.device)
        for i in range(lines):
            block = _tridiagonal(diag[:, i], east[:, i, :-1], east[:, i, :-1])
            r = torch.cat((c_t[:, i], load[:, i + 1, 1:m]), dim=-1) * free[:, i, :, None]
            if i > 0:
                block = torch.baddbmm(block, coupling[-1], coupling[-1].mT, alpha=-1.0)
                r = torch.baddbmm(r, coupling[-1], z[-1], alpha=-1.0)
            factor, info = torch.linalg.cholesky_ex(block)
            failed |= info != 0
            chol.append(factor)
            z.append(torch.linalg.solve_triangular(factor, r, upper=False))
            gram = torch.baddbmm(gram, z[-1].mT, z[-1])
            if i + 1 < lines:
                # K_{i+1,i} (rows line i+1, columns line i) and M_i = K_{i+1,i} L_i^{-T}.
                lower = _tridiagonal(north[:, i], north_west[:, i, 1:], north_east[:, i, :-1])
                coupling.append(
                    torch.linalg.solve_triangular(factor.mT, lower, upper=True, left=False)
                )

        # 2. Schur complement of the constraints; unused multipliers get unit rows.
        schur = gram[:, : s * s, : s * s] + torch.diag_embed(1.0 - constrained)
        schur_chol, info = torch.linalg.cholesky_ex(schur)
        failed |= info != 0
        mu = torch.cholesky_solve(gram[:, : s * s, s * s :], schur_chol)

        # 3. Backward substitution Q = L^{-T} (z_b − z_C μ).
        q = torch.zeros((batch, m + 1, m + 1, 4), dtype=a.dtype, device=a.device)
        for i in reversed(range(lines)):
            r = torch.baddbmm(z[i][..., s * s :], z[i][..., : s * s], mu, alpha=-1.0)
            if i + 1 < lines:
                r = torch.baddbmm(r, coupling[i].mT, q[:, i + 2, 1:m], alpha=-1.0)
            q[:, i + 1, 1:m] = torch.linalg.solve_triangular(chol[i].mT, r, upper=True)

        # 4. S_{A,T} = P^T (K_T(A) P λ_T − K(A) Q).
        flux = load - apply_stiffness(self.k_ref, a, q)
        local = torch.einsum("yu,byxj,xv->buvj", self.p1, flux, self.p1).reshape(batch, s * s, 4)
        bad = torch.nonzero(failed).flatten().cpu()
        if bad.numel():
            raise ValueError(
                f"the patch stiffness or its Schur complement is not positive definite for patch "
                f"{int(bad[0])} of the batch ({bad.numel()} of {batch}); check the coefficient "
                "(positive, finite, contrast below ~1e15)"
            )
        local = local.cpu().numpy()
        corr = q.reshape(batch, -1, 4).cpu().numpy() if want_correctors else None
        return local, corr
