"""Condensed backend of ``PatchSolver``: each coarse element's interior eliminated once, shared.

The patches of neighbouring elements overlap in all but one layer of coarse elements, and in
the saddle point problem of a patch the fine nodes strictly inside a coarse element K (its
*interior*) couple only to K's own boundary (its *ring*, on the coarse grid lines) and to the
multipliers of K's 2^d corners: I_H v = Σ_K (1/2^d) Π_K v (``lod_fenicsx.interpolation``) at
nodes interior to D. Eliminating the interior of K is therefore the same in every patch that
holds K. This backend does it once per distinct coarse element of a batch (dense Cholesky,
NumPy, all elements at once) and leaves to each patch only its *skeleton*: the fine nodes on
the coarse grid lines inside the patch and the multipliers, about a fifth of the unknowns for
n = 8, ℓ = 2. Per element K, with ``h = K_K Λ`` (Λ: K's corner hats on K's fine nodes) and X
the solutions K_II X = [K_IR, C_I^T, h_I]:

    Ŝ_K = [K_RR − K_RI X_R, C_R^T − K_RI X_C; ., −C_I X_C]    (Schur complement on ring, corners)
    ĥ_K = [h_R − K_RI X_h; −C_I X_h]                            (condensed load of K's hats)
    Ê_K = Λ^T K_K Λ − h_I^T X_h                                  (K's own condensed energy)

A patch of T assembles its skeleton matrix from the Ŝ_K of its (2ℓ+1)^d elements, solves it for
the right-hand sides ĥ_T (one sparse LDL^T, PETSc, as the petsc backend: fine nodes in AMD order,
multipliers last), and gives, with y_K the skeleton solution on K's ring and corners,

    S_{A,T} = Ê_T − Σ_K ĥ_K^T y_K     (rows: the corners of every K, summed per coarse node),

the local matrix of the petsc backend to round-off. The correctors inside K follow as
X_h [K = T] − X_R y_R − X_C y_μ. 2-D only. The whole coefficient's patches should come in one
batch (``batch_size``), so that every element is condensed once.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from lod_fenicsx.corrector_petsc import _csr_pattern, cholesky_solver, fill_reducing_order
from lod_fenicsx.interpolation import element_projection, prolongation
from lod_fenicsx.patch import constrained_coarse_nodes, free_fine_nodes
from lod_fenicsx.q1 import reference_element_matrices
from plumbing.threads import blas_threads
from plumbing.timing import phase


class CondensedBackend:
    """Correctors by static condensation of the coarse elements' interiors (2-D, CPU, PETSc).

    Parameters
    ----------
    n_sub, ell : fine cells per coarse element and oversampling layers of the reference patch.
    batch_size : patches per call (default 4096: every patch of a 64 x 64 coarse grid at once,
        so that each coarse element is condensed once).
    """

    name = "condensed"
    ordering = "amd"  # of the skeleton unknowns (PETSc's names)
    scales_itself = True  # takes R_T(A) unscaled: a coarse element is condensed once for all T

    def __init__(self, n_sub: int, ell: int, batch_size: int | None = None):
        self.n_sub, self.ell = int(n_sub), int(ell)
        n = self.n_sub
        if n < 2 or ell < 1:
            raise ValueError("the condensed backend needs n_sub >= 2 and ell >= 1")
        self.batch_size = int(batch_size or 4096)
        self.side = side = 2 * ell + 1  # coarse elements per side of the padded patch
        self.m = m = side * n
        self.s = s = side + 1
        self.timings = defaultdict(float)
        # One coarse element K on its (n+1)^2 fine nodes: stiffness = Σ_cells a_c k_ref.
        k_ref, _ = reference_element_matrices(2)
        cy, cx = np.divmod(np.arange(n * n), n)
        corner = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # (y, x) offsets, C order
        nodes = (cy[:, None] + corner[:, 0]) * (n + 1) + cx[:, None] + corner[:, 1]  # (cells, 4)
        ly, lx = np.divmod(np.arange((n + 1) ** 2), n + 1)
        ring = (ly % n == 0) | (lx % n == 0)
        self.inner, self.ring = np.flatnonzero(~ring), np.flatnonzero(ring)
        # K's nodes in the order [interior, ring], so that its blocks are slices.
        order = np.r_[self.inner, self.ring]
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        c, a, b = (
            g.ravel() for g in np.meshgrid(np.arange(n * n), range(4), range(4), indexing="ij")
        )
        self.w_element = np.zeros((n * n, (n + 1) ** 4))  # dense: one GEMM for all K
        flat = rank[nodes[c, a]] * (n + 1) ** 2 + rank[nodes[c, b]]
        np.add.at(self.w_element, (c, flat), k_ref[a, b])
        self.hats = prolongation(1, n).toarray()[order]  # Λ: ((n+1)^2, 4), corners in C order
        self.constraint = 0.25 * element_projection(n)[:, order]  # (1/2^d) Π_K

        # The patch: its skeleton (fine nodes on the inner coarse lines), then s^2 multipliers.
        py, px = np.divmod(np.arange((m + 1) ** 2), m + 1)
        on_line = ((py % n == 0) | (px % n == 0)) & (py > 0) & (py < m) & (px > 0) & (px < m)
        skeleton = np.flatnonzero(on_line)
        n_skel = skeleton.size
        number = np.full((m + 1) ** 2, -1)
        number[skeleton] = np.arange(n_skel)
        # Per element K = (ey, ex) of the patch: its ring nodes and corners as skeleton unknowns
        # (−1: the patch boundary, where the correctors vanish).
        ey, ex = np.divmod(np.arange(side * side), side)
        ring_nodes = (ey[:, None] * n + ly[self.ring]) * (m + 1) + ex[:, None] * n + lx[self.ring]
        corners = (ey[:, None] + corner[:, 0]) * s + ex[:, None] + corner[:, 1]
        self.unknown = np.concatenate([number[ring_nodes], n_skel + corners], axis=1)  # (K, 36)
        self.corners = corners  # (K, 4): patch coarse node of each corner
        self.gather_corners = np.zeros((s * s, corners.size))
        self.gather_corners[corners.ravel(), np.arange(corners.size)] = 1.0
        self.centre = ell * side + ell
        self.interior_nodes = (
            (ey[:, None] * n + ly[self.inner]) * (m + 1) + ex[:, None] * n + lx[self.inner]
        )
        self.n_skel, self.size = n_skel, n_skel + s * s
        self.skeleton = skeleton
        # The interior fine unknowns of the patch (the other backends' numbering) on the skeleton.
        interior = (py > 0) & (py < m) & (px > 0) & (px < m)
        inner_number = np.cumsum(interior) - 1
        self.skeleton_interior = inner_number[skeleton]
        self._setup_pattern()
        self._types: dict[tuple, tuple] = {}

    def _setup_pattern(self):
        """The skeleton matrix's CSR pattern (permuted), and the map Ŝ of all K -> its values."""
        k, width = self.unknown.shape
        rows = np.repeat(self.unknown, width, axis=1).ravel()
        cols = np.tile(self.unknown, (1, width)).ravel()
        source = np.arange(k * width * width)
        keep = (rows >= 0) & (cols >= 0)
        rows, cols, source = rows[keep], cols[keep], source[keep]
        # Unused multipliers keep a unit diagonal: every patch type shares the pattern.
        diag = np.arange(self.size)
        rows, cols = np.r_[rows, diag], np.r_[cols, diag]
        # Fill-reducing order of all unknowns, multipliers among them: after the condensation
        # the multipliers' block is negative definite (−C_I K_II^{-1} C_I^T summed over the
        # elements around each node), so the matrix is quasi-definite and has an LDL^T in any
        # symmetric order (Vanderbei 1995); no zero pivot forces them last.
        pattern = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(self.size,) * 2)
        pattern.sum_duplicates()
        order = fill_reducing_order(pattern.indptr, pattern.indices, self.ordering)
        self.position = np.empty(self.size, dtype=np.int64)
        self.position[order] = np.arange(self.size)
        indptr, indices, where = _csr_pattern(self.position[rows], self.position[cols], self.size)
        n_entries = indices.size
        n_block = source.size
        # The Ŝ_K of the patch's elements, one after another -> the entries, summed.
        self.assemble = sp.csr_matrix(
            (np.ones(n_block), (where[:n_block], source)), shape=(n_entries, k * width * width)
        )
        self.entry_rows = np.repeat(np.arange(self.size), np.diff(indptr))
        self.entry_cols = indices
        self.entry_diag = self.entry_rows == self.entry_cols
        self._data = np.zeros(n_entries)
        centre = self.unknown[self.centre]
        self.centre_ok = centre >= 0
        self.centre_unknowns = centre[self.centre_ok]
        self.centre_rows = self.position[self.centre_unknowns]
        comm = PETSc.COMM_SELF
        self._mat = PETSc.Mat().createAIJWithArrays(
            (self.size, self.size), (indptr, indices, self._data), comm=comm
        )
        self._ksp, self._pc = cholesky_solver(self._mat, "petsc")
        self._rhs_array = np.zeros((self.size, 4), order="F")
        self._sol_array = np.zeros((self.size, 4), order="F")
        self._rhs = PETSc.Mat().createDense((self.size, 4), array=self._rhs_array, comm=comm)
        self._sol = PETSc.Mat().createDense((self.size, 4), array=self._sol_array, comm=comm)

    def _type(self, key):
        """Per patch type: which entries keep their value (free rows and columns) and the
        constant ones (unit diagonal of eliminated unknowns), and which loads are kept."""
        if key not in self._types:
            free = free_fine_nodes(key, self.n_sub, self.ell)[self.skeleton_interior]
            live = np.r_[free, constrained_coarse_nodes(key, self.ell)]
            live_p = np.empty(self.size, dtype=bool)
            live_p[self.position] = live
            keep = live_p[self.entry_rows] & live_p[self.entry_cols]
            const = np.where(self.entry_diag & ~live_p[self.entry_rows], 1.0, 0.0)
            # Interior patches (most of them) keep every entry: no masking at all.
            masks = None if keep.all() else (keep.astype(float), const)
            self._types[key] = (masks, live[self.centre_unknowns, None].astype(float))
        return self._types[key]

    def close(self):
        self._types.clear()
        if self._mat is not None:
            for obj in (self._ksp, self._mat, self._rhs, self._sol):
                obj.destroy()
            self._mat = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def condense(self, cells: np.ndarray):
        """Ŝ_K ``(k, 36, 36)``, ĥ_K ``(k, 36, 4)``, Ê_K ``(k, 4, 4)`` and the interior solutions
        X ``(k, (n−1)^2, 36 + 4)`` of k coarse elements from their cells ``(k, n, n)``.

        Elements whose cells are all 0 (outside D) get zeros.
        """
        k, n = len(cells), self.n_sub
        inside = cells.reshape(k, -1).max(axis=1) > 0
        stiff = cells[inside].reshape(-1, n * n) @ self.w_element
        stiff = stiff.reshape(-1, (n + 1) ** 2, (n + 1) ** 2)
        h = stiff @ self.hats  # (k, nodes, 4)
        n_i, n_r = self.inner.size, self.ring.size
        i, r = slice(0, n_i), slice(n_i, None)
        rhs = np.concatenate(
            [stiff[:, i, r], np.broadcast_to(self.constraint[:, i].T, h[:, i].shape), h[:, i]],
            axis=2,
        )
        x = np.linalg.solve(stiff[:, i, i], rhs)  # K_II X = [K_IR, C_I^T, h_I]
        x_r, x_c, x_h = x[..., :n_r], x[..., n_r : n_r + 4], x[..., n_r + 4 :]
        k_ri = stiff[:, r, i]
        c_i = self.constraint[:, i]
        schur = np.empty((len(stiff), n_r + 4, n_r + 4))
        schur[:, :n_r, :n_r] = stiff[:, r, r] - k_ri @ x_r
        schur[:, :n_r, n_r:] = self.constraint[:, r].T - k_ri @ x_c
        schur[:, n_r:, :n_r] = np.swapaxes(schur[:, :n_r, n_r:], 1, 2)
        schur[:, n_r:, n_r:] = -c_i @ x_c
        loads = np.concatenate([h[:, r] - k_ri @ x_h, -c_i @ x_h], axis=1)
        energy = self.hats.T @ h - np.swapaxes(h[:, i], 1, 2) @ x_h
        out = [np.zeros((k,) + a.shape[1:]) for a in (schur, loads, energy, x)]
        for full, part in zip(out, (schur, loads, energy, x)):
            full[inside] = part
        return tuple(out)

    def solve(self, keys, windows: np.ndarray, want_correctors: bool):
        """Unmasked S_{A,T} ``(k, s^2, 4)`` of k patches and, if wanted, their correctors."""
        n, side, m = self.n_sub, self.side, self.m
        k = len(windows)
        tm = self.timings
        with blas_threads(1):
            with phase(tm, "condensation"):
                cells = windows.reshape(k, side, n, side, n).transpose(0, 1, 3, 2, 4)
                cells = np.ascontiguousarray(cells).reshape(k * side * side, n, n)
                distinct, which = np.unique(
                    cells.reshape(len(cells), -1).view(np.dtype((np.void, 8 * n * n))),
                    return_inverse=True,
                )
                which = which.reshape(k, side * side)
                schur, loads, energy, x = self.condense(distinct.view(np.float64).reshape(-1, n, n))
            # Scaled by a power of two near the largest entry of the patch's elements (exact):
            # the pivot tolerance of the factorisation is absolute; the solution does not change.
            largest = np.abs(schur).reshape(len(schur), -1).max(axis=1)
            y = np.empty((k, self.size, 4))
            for p, key in enumerate(map(tuple, np.asarray(keys).tolist())):
                masks, live = self._type(key)
                scale = np.exp2(-np.round(np.log2(largest[which[p]].max())))
                with phase(tm, "assembly"):
                    np.multiply(self.assemble @ schur[which[p]].ravel(), scale, out=self._data)
                with phase(tm, "factorization"):
                    if masks is not None:
                        self._data *= masks[0]
                        self._data += masks[1]
                    self._mat.stateIncrease()
                    self._pc.setUp()
                if self._pc.getFailedReason():
                    raise RuntimeError(
                        "the factorisation of a condensed patch matrix failed; check the "
                        "coefficient (positive, finite)"
                    )
                with phase(tm, "solves"):  # the loads live on T's ring and corners only
                    rhs = loads[which[p, self.centre]][self.centre_ok] * scale
                    self._rhs_array[self.centre_rows] = rhs * live
                    self._pc.getFactorMatrix().matSolve(self._rhs, self._sol)
                    y[p] = self._sol_array[self.position]
            with phase(tm, "products"):
                local_y = np.where(
                    (self.unknown >= 0)[None, :, :, None], y[:, np.maximum(self.unknown, 0)], 0.0
                )  # (k, K, 36, 4)
                h = loads[which]  # (k, K, 36, 4)
                flux = np.swapaxes(h, 2, 3) @ local_y  # a(Q λ_j, λ_c) on K: (k, K, 4, 4)
                out = -(self.gather_corners @ flux.reshape(k, -1, 4))  # summed per coarse node
                out[:, self.corners[self.centre]] += energy[which[:, self.centre]]
        if not want_correctors:
            return out, None
        corr = np.zeros((k, (m + 1) ** 2, 4))
        corr[:, self.skeleton] = y[:, : self.n_skel]
        n_r = self.ring.size
        xs = x[which]  # (k, K, inner, 40)
        inner = -xs[..., : n_r + 4] @ local_y  # (k, K, inner, 4)
        inner[:, self.centre] += xs[:, self.centre, :, n_r + 4 :]
        corr[:, self.interior_nodes] = inner
        return out, corr
