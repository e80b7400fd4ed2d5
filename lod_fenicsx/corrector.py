"""Element correctors Q_T λ_j and local PG-LOD matrices S_{A,T} (paper 000, eqs. (3.5), (3.9)).

All padded patches share one geometry (``lod_fenicsx.patch``): a square of (2ℓ+1)^2 coarse
elements, each cut into n x n fine cells, the coefficient being 0 outside D. Everything that
does not depend on A is built once on this reference patch from the DOLFINx Q1 templates:

* the fine stiffness K(A) as a fixed CSR pattern whose values are ``W_K @ R_T(A)`` (one
  sparse product for a whole batch of patches, no loop over cells);
* the element loads b_j = (A∇λ_j, ∇w)_T and the products (A∇λ_j, ∇λ_i)_T, linear in R_T(A)
  as well;
* the constraint matrix C = I_H (weight 1/n_z = 1/4) of the padded patch, restricted per
  patch to the coarse nodes interior to D.

The unknowns of every patch are the (m−1)^2 fine nodes strictly inside the padded patch
(m = (2ℓ+1) n) and one multiplier per coarse node of the patch; fine nodes on ∂D or outside
D and multipliers of nodes not interior to D are eliminated by unit rows, so that all
patches share one sparsity pattern and one symbolic factorisation. Per patch the saddle
point problem

    [K C^T; C 0] [Q; μ] = [b; 0],    b = the 4 element loads,

is factorised once (PETSc, options prefix ``lod_``) and solved for the 4 loads:

* method "saddle" (default): LDL^T of the whole matrix with the fine nodes first (in a
  fill-reducing order) and the multipliers last; the trailing block of the factorisation is
  the Schur complement −C K^{-1} C^T, so this is the Schur complement method with the
  constraint columns K^{-1} C^T formed inside the factorisation;
* method "schur": Cholesky of K, Y = K^{-1} [C^T b] in one multi-right-hand-side solve,
  μ = (C Y_C)^{-1} C Y_b and Q = Y_b − Y_C μ.

Then S_{A,T} = P^T (G(A) − K_full(A) Q), P the coarse hats of the patch on its fine nodes
and G(A) = K_T(A) P λ_T.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.discretization import reference_element_matrices
from lod_fenicsx.interpolation import patch_interpolation_matrix, prolongation
from lod_fenicsx.patch import (
    element_node_positions,
    pad_field,
    padded_cell_indices,
    padded_node_indices,
)
from lod_fenicsx.threads import blas_threads

CHUNK = 64  # patches whose coefficient windows R_T(A) are gathered at once


def _index_grid(*sizes):
    """Flattened index arrays of the full tensor grid ``range(sizes[0]) x range(sizes[1]) x ...``."""
    return (g.ravel() for g in np.meshgrid(*(np.arange(k) for k in sizes), indexing="ij"))


def _csr_pattern(rows: np.ndarray, cols: np.ndarray, size: int):
    """CSR pattern of the (row, col) pairs and the position of every pair in it."""
    keys = rows.astype(np.int64) * size + cols
    unique, where = np.unique(keys, return_inverse=True)
    indptr = np.zeros(size + 1, dtype=PETSc.IntType)
    np.cumsum(np.bincount(unique // size, minlength=size), out=indptr[1:])
    return indptr, (unique % size).astype(PETSc.IntType), where


class _PatchType:
    """What differs between patches at different positions relative to ∂D.

    ``key = (ay, by, ax, bx)``: in padded coarse coordinates D ∩ patch is the open box
    ``(ay, by) x (ax, bx)``, clipped to the patch (−1 and 2ℓ+2 mean "beyond the patch").
    Fine nodes outside the box and multipliers of coarse nodes not interior to D are
    eliminated by unit rows (zero couplings, zero right-hand sides), so the matrix pattern
    and its symbolic factorisation are the same for all types.

    S_{A,T} is evaluated without forming K_full(A) Q: on the free rows K Q = b − C^T μ, so

        S_{A,T} = [W_elem − P_int^T W_load] R_T(A) + (C P_int)^T μ − P_r^T (K_r(A) Q),

    with r the rows of the patch nodes that are not free (patch boundary, ∂D, outside D).
    """

    def __init__(self, ps: "PatchSolver", key: tuple[int, int, int, int]):
        ay, by, ax, bx = key
        n, m, s = ps.n_sub, ps.m, ps.s
        jy = np.arange(1, m)  # interior patch nodes per direction
        free_y = (jy > ay * n) & (jy < by * n)
        free_x = (jy > ax * n) & (jy < bx * n)
        self.free = free = (free_y[:, None] & free_x[None, :]).ravel()
        ky = np.arange(s)
        inside_y, inside_x = (ky > ay) & (ky < by), (ky > ax) & (ky < bx)
        self.constrained_mask = (inside_y[:, None] & inside_x[None, :]).ravel()
        self.constrained = np.flatnonzero(self.constrained_mask)
        keep = free[ps.int_rows] & free[ps.int_cols]
        unit_diag = ps.int_diag[~free]
        # Constraint rows of this type (zero rows for unconstrained nodes, zero eliminated columns).
        c_type = ps.patch_interp_int * self.constrained_mask[:, None] * free[None, :]
        # Products: S = w_s @ a + cp_t @ μ − p_sel_t @ ((w_sel @ a) * Q[q_sel]).
        self.w_s = ps.element_weights(free)
        self.cp_t = ps.p_int_t @ c_type.T
        free_all = np.zeros(ps.n_all, dtype=bool)
        free_all[ps.interior] = free
        sel = np.flatnonzero(~free_all[ps.full_rows] & free_all[ps.full_cols])
        self.w_sel = ps.w_stiffness[sel]
        self.q_sel = ps.q_position[ps.number[ps.full_cols[sel]]]
        self.p_sel_t = np.ascontiguousarray(ps.p_dense[ps.full_rows[sel]].T)
        if ps.method == "saddle":
            # Saddle matrix values of a patch: w_aug @ a + aug_const (permuted CSR order).
            k_const = np.zeros(keep.size)
            k_const[unit_diag] = 1.0
            c_values = c_type[ps.c_rows, ps.c_cols]
            n_rest = 2 * c_values.size + s * s
            scale = np.r_[keep.astype(float), np.zeros(n_rest)][ps.aug_source]
            w = ps.w_aug
            self.w_aug = sp.csr_matrix((w.data * scale[ps.w_aug_rows], w.indices, w.indptr), shape=w.shape)
            unused = (~self.constrained_mask).astype(float)
            self.aug_const = np.r_[k_const, c_values, c_values, unused][ps.aug_source]
            self.free_order = free[ps.order][:, None]
        else:
            self.keep, self.unit_diag = keep.astype(float), unit_diag
            nc, n_int = self.constrained.size, ps.n_int
            self.constraint = np.ascontiguousarray(c_type[self.constrained])
            comm = PETSc.COMM_SELF
            self.rhs_array = np.zeros((n_int, nc + 4), order="F")
            self.rhs_array[:, :nc] = self.constraint.T
            self.sol_array = np.zeros((n_int, nc + 4), order="F")
            self.rhs = PETSc.Mat().createDense((n_int, nc + 4), array=self.rhs_array, comm=comm)
            self.sol = PETSc.Mat().createDense((n_int, nc + 4), array=self.sol_array, comm=comm)

    def destroy(self):
        for name in ("rhs", "sol"):
            if hasattr(self, name):
                getattr(self, name).destroy()


class PatchSolver:
    """Element correctors and local PG-LOD matrices for every patch of one discretization.

    Parameters
    ----------
    n_coarse : coarse elements per side N_H.
    n_sub : fine cells per coarse element per side n.
    ell : oversampling layers ℓ of the patches N^ℓ(T).
    method : how the saddle point problem of each patch is solved.

        * ``"saddle"`` (default): one sparse LDL^T factorisation of the whole symmetric
          saddle point matrix [K C^T; C 0], fine nodes in a fill-reducing order (AMD) and
          the multipliers last, so that its trailing block is the Schur complement
          −C K^{-1} C^T; then one solve with the 4 element loads gives Q and μ. PETSc's
          native factorisation (no pivoting is needed in this order).
        * ``"schur"``: sparse Cholesky of K (CHOLMOD by default), Y = K^{-1} [C^T b] by one
          multi-right-hand-side solve, then the dense Schur complement C Y.
    factor_solver : PETSc factorisation package (default "petsc" for "saddle", "cholmod"
        for "schur"); ``-lod_pc_factor_mat_solver_type`` overrides it.

    All PETSc objects live on COMM_SELF, with options prefix ``lod_``: use one solver per
    rank and distribute patches (``solvers.distributed_local_matrices``) or whole samples.
    """

    def __init__(
        self, n_coarse: int, n_sub: int, ell: int, method: str = "saddle", factor_solver: str | None = None
    ):
        if n_coarse < 1 or n_sub < 1 or ell < 0:
            raise ValueError(f"need n_coarse >= 1, n_sub >= 1, ell >= 0; got {n_coarse}, {n_sub}, {ell}")
        if method not in ("saddle", "schur"):
            raise ValueError(f"method must be 'saddle' or 'schur', got {method!r}")
        self.n_coarse, self.n_sub, self.ell = int(n_coarse), int(n_sub), int(ell)
        self.method = method
        self.factor_solver = factor_solver or ("petsc" if method == "saddle" else "cholmod")
        n, ell = self.n_sub, self.ell
        self.m = m = (2 * ell + 1) * n  # fine cells per side of the padded patch
        self.s = s = 2 * ell + 2  # coarse nodes per side of the padded patch
        k_ref, _ = reference_element_matrices()
        self.n_all = n_all = (m + 1) ** 2

        cy, cx = np.divmod(np.arange(m * m), m)
        cell_nodes = (cy * (m + 1) + cx)[:, None] + np.array([0, 1, m + 1, m + 2])[None, :]
        # Stiffness on all patch nodes as CSR data: data = W_K @ a (a = R_T(A)).
        c, a, b = _index_grid(m * m, 4, 4)
        indptr, self.full_cols, where = _csr_pattern(cell_nodes[c, a], cell_nodes[c, b], n_all)
        self.w_stiffness = sp.csr_matrix((k_ref[a, b], (where, c)), shape=(self.full_cols.size, m * m))
        self.full_rows = np.repeat(np.arange(n_all), np.diff(indptr))
        # Interior nodes (the fine unknowns) and the sub-pattern of K on them.
        jy, jx = np.divmod(np.arange(n_all), m + 1)
        interior = (jy > 0) & (jy < m) & (jx > 0) & (jx < m)
        self.interior = np.flatnonzero(interior)
        self.n_int = self.interior.size
        self.number = np.full(n_all, -1)
        self.number[self.interior] = np.arange(self.n_int)
        self.int_entries = np.flatnonzero(interior[self.full_rows] & interior[self.full_cols])
        self.int_rows = self.number[self.full_rows[self.int_entries]]
        self.int_cols = self.number[self.full_cols[self.int_entries]]
        self.int_indptr = np.zeros(self.n_int + 1, dtype=PETSc.IntType)
        np.cumsum(np.bincount(self.int_rows, minlength=self.n_int), out=self.int_indptr[1:])
        self.int_indices = self.int_cols.astype(PETSc.IntType)
        self.int_diag = np.flatnonzero(self.int_rows == self.int_cols)  # one per row, in row order
        # Coarse hats of the patch on its fine nodes; T's cells and T's hats.
        p = prolongation(2 * ell + 1, n)  # (n_all, s^2)
        self.p_dense = p.toarray()
        self.p_int_t = np.ascontiguousarray(self.p_dense[self.interior].T)
        t_nodes = element_node_positions(ell)
        t_cells = np.flatnonzero((cy // n == ell) & (cx // n == ell))
        hats_t = self.p_dense[:, t_nodes][cell_nodes[t_cells]]  # (cells of T, 4 local, 4 hats)
        # Element loads b_j = (A∇λ_j, ∇w)_T on interior nodes: (n_int * 4) = W_load @ a.
        grad = np.einsum("ab,cbj->caj", k_ref, hats_t)
        c, a, j = _index_grid(t_cells.size, 4, 4)
        node = self.number[cell_nodes[t_cells][c, a]]
        self.w_load = sp.csr_matrix(
            (grad[c, a, j], (node * 4 + j, t_cells[c])), shape=(self.n_int * 4, m * m)
        )
        self.load_nodes = np.unique(node)  # interior nodes where the element loads live
        self._element_weights: dict[bytes, sp.csr_matrix] = {}
        # (A∇λ_j, ∇λ_i)_T for all patch nodes i: (s^2 * 4) = W_elem @ a.
        hats_all = self.p_dense[cell_nodes[t_cells]]  # (cells of T, 4 local, s^2)
        local = np.einsum("cai,ab,cbj->cij", hats_all, k_ref, hats_t)
        c, i, j = _index_grid(t_cells.size, s * s, 4)
        self.w_element = sp.csr_matrix((local[c, i, j], (i * 4 + j, t_cells[c])), shape=(s * s * 4, m * m))
        # I_H of the padded patch on the interior fine nodes, and its sparsity pattern.
        self.patch_interp_int = patch_interpolation_matrix(ell, n)[:, self.interior]
        self.c_rows, self.c_cols = np.nonzero(self.patch_interp_int)
        self.c_values = self.patch_interp_int[self.c_rows, self.c_cols]
        self.cell_index = padded_cell_indices(self.n_coarse, n, ell)
        self.node_index = padded_node_indices(self.n_coarse, ell)
        self._types: dict[tuple, _PatchType] = {}
        self.timings = defaultdict(float)
        self._setup_petsc()

    def _fill_reducing_order(self) -> np.ndarray:
        """Fill-reducing order of the interior fine nodes from K's pattern (PETSc).

        Approximate minimum degree (SuiteSparse AMD through PETSc) gave 8% less fill and a
        faster factorisation than nested dissection on the 39 x 39 node patches of the
        paper; nested dissection is the fallback when AMD is not available.
        """
        csr = (self.int_indptr, self.int_indices, np.ones(self.int_indices.size))
        pattern = PETSc.Mat().createAIJ((self.n_int, self.n_int), csr=csr, comm=PETSc.COMM_SELF)
        try:
            rperm, cperm = pattern.getOrdering("amd")
        except PETSc.Error:
            rperm, cperm = pattern.getOrdering("nd")
        order = rperm.getIndices().copy()
        for obj in (rperm, cperm, pattern):
            obj.destroy()
        return order

    def _setup_petsc(self):
        """One matrix (shared pattern), one KSP and one symbolic factorisation for all patches."""
        comm = PETSc.COMM_SELF
        ni, s2 = self.n_int, self.s**2
        if self.method == "saddle":
            # Pattern of [K C^T; C D] (D: unit diagonal of unused multipliers), permuted to
            # (fine nodes in fill-reducing order, multipliers in node order).
            n_k = self.int_rows.size
            mult = ni + np.arange(s2)
            rows = np.r_[self.int_rows, ni + self.c_rows, self.c_cols, mult]
            cols = np.r_[self.int_cols, self.c_cols, ni + self.c_rows, mult]
            self.order = self._fill_reducing_order()
            position = np.empty(ni + s2, dtype=np.int64)
            position[np.r_[self.order, mult]] = np.arange(ni + s2)
            indptr, indices, where = _csr_pattern(position[rows], position[cols], ni + s2)
            # CSR entry e holds entry aug_source[e] of [K entries, C, C^T, D]; the K entries
            # are rows int_entries of W_K, the others rows of zeros (filled by constants).
            self.aug_source = np.argsort(where)
            is_k = self.aug_source < n_k
            k_rows = self.int_entries[np.minimum(self.aug_source, n_k - 1)]
            self.w_aug = (sp.diags(is_k.astype(float)) @ self.w_stiffness[k_rows]).tocsr()
            self.w_aug_rows = np.repeat(np.arange(self.w_aug.shape[0]), np.diff(self.w_aug.indptr))
            self.q_position = np.empty(ni, dtype=np.int64)  # interior node -> row of the solution
            self.q_position[self.order] = np.arange(ni)
            rows_load = (self.order[:, None] * 4 + np.arange(4)[None, :]).ravel()
            self.w_load_order = self.w_load[rows_load]
            size = ni + s2
            self._rhs_array = np.zeros((size, 4), order="F")
            self._sol_array = np.zeros((size, 4), order="F")
            self._rhs = PETSc.Mat().createDense((size, 4), array=self._rhs_array, comm=comm)
            self._sol = PETSc.Mat().createDense((size, 4), array=self._sol_array, comm=comm)
        else:
            indptr, indices, size = self.int_indptr, self.int_indices, ni
            self.q_position = np.arange(ni)
        self._data = np.zeros(indices.size)
        mat = PETSc.Mat().createAIJWithArrays((size, size), (indptr, indices, self._data), comm=comm)
        mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        mat.setOption(PETSc.Mat.Option.SPD, self.method == "schur")
        ksp = PETSc.KSP().create(comm)
        ksp.setOptionsPrefix("lod_")
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType(self.factor_solver)
        pc.setFactorOrdering("natural" if self.method == "saddle" else "nd")
        ksp.setOperators(mat)
        ksp.setFromOptions()
        self._petsc = (mat, ksp, pc)

    def element_weights(self, free: np.ndarray) -> sp.csr_matrix:
        """W_elem − P_int^T diag(free) W_load: a -> (A∇λ_j, ∇λ_i)_T − P_int^T b_j (cached).

        It depends on the type only through which of T's fine nodes are free, so only the
        few types whose T touches ∂D compute their own.
        """
        key = free[self.load_nodes].tobytes()
        if key not in self._element_weights:
            rows = np.repeat(free, 4).astype(float)
            masked_load = sp.diags(rows) @ self.w_load
            p_load = sp.kron(sp.csr_matrix(self.p_int_t), sp.eye(4), format="csr") @ masked_load
            self._element_weights[key] = (self.w_element - p_load).tocsr()
        return self._element_weights[key]

    # -- patch positions ------------------------------------------------------------------
    def type_key(self, t: int) -> tuple[int, int, int, int]:
        """Position of the patch of element t relative to ∂D (see _PatchType)."""
        ty, tx = divmod(int(t), self.n_coarse)
        N, ell, s = self.n_coarse, self.ell, self.s
        return (max(ell - ty, -1), min(N + ell - ty, s), max(ell - tx, -1), min(N + ell - tx, s))

    def _type(self, key) -> _PatchType:
        if key not in self._types:
            self._types[key] = _PatchType(self, key)
        return self._types[key]

    def close(self):
        """Destroy the PETSc objects (also done at garbage collection)."""
        for ptype in self._types.values():
            ptype.destroy()
        self._types.clear()
        if self._petsc is not None:
            mat, ksp, _ = self._petsc
            ksp.destroy()
            mat.destroy()
            if self.method == "saddle":
                self._rhs.destroy()
                self._sol.destroy()
            self._petsc = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    # -- the computation ------------------------------------------------------------------
    def _elements(self, elements) -> np.ndarray:
        n_el = self.n_coarse**2
        if elements is None:
            return np.arange(n_el)
        elements = np.asarray(elements, dtype=np.int64).reshape(-1)
        bad = (elements < 0) | (elements >= n_el)
        if bad.any():
            raise ValueError(f"element index {elements[bad][0]} out of range [0, {n_el})")
        return elements

    def _solve(self, coefficient, elements, mask: bool, want_correctors: bool = False):
        coefficient = validate_coefficient(coefficient, self.n_coarse, self.n_sub)
        elements = self._elements(elements)
        if self._petsc is None:
            raise RuntimeError("PatchSolver was closed")
        s2 = self.s * self.s
        out = np.zeros((elements.size, s2, 4))
        corr = np.zeros((elements.size, self.n_all, 4)) if want_correctors else None
        padded = pad_field(coefficient, self.n_sub, self.ell).ravel()
        groups = defaultdict(list)
        for i, t in enumerate(elements):
            groups[self.type_key(t)].append(i)
        solve = self._solve_saddle if self.method == "saddle" else self._solve_schur
        tm = self.timings
        # The per-patch dense work is far too small to gain from BLAS threads, and threads
        # would oversubscribe the cores under MPI.
        with blas_threads(1):
            for key, idx in groups.items():
                ptype = self._type(key)
                for start in range(0, len(idx), CHUNK):
                    chunk = idx[start : start + CHUNK]
                    a_chunk = padded[self.cell_index[elements[chunk]]]  # (chunk, m^2) R_T(A)
                    for a, i in zip(a_chunk, chunk):
                        q, mu = solve(ptype, a)
                        t0 = time.perf_counter()
                        boundary_flux = (ptype.w_sel @ a)[:, None] * q[ptype.q_sel]
                        out[i] = (ptype.w_s @ a).reshape(s2, 4) + ptype.cp_t @ mu
                        out[i] -= ptype.p_sel_t @ boundary_flux
                        if want_correctors:
                            corr[i, self.interior] = q[self.q_position]
                        tm["products"] += time.perf_counter() - t0
        if mask:
            nodes = self.node_index[elements]  # (k, s^2), -1 where not interior to D
            out[nodes < 0, :] = 0.0
            cols = nodes[:, element_node_positions(self.ell)]  # (k, 4)
            out[np.broadcast_to(cols[:, None, :] < 0, out.shape)] = 0.0
        return out, corr

    def _solve_saddle(self, ptype: _PatchType, a: np.ndarray):
        """Q (fine unknowns in factorisation order) and μ (all multipliers) of one patch."""
        mat, _, pc = self._petsc
        tm = self.timings
        ni = self.n_int
        t0 = time.perf_counter()
        np.add(ptype.w_aug @ a, ptype.aug_const, out=self._data)
        mat.stateIncrease()  # PETSc shares self._data: mark the values changed
        np.multiply((self.w_load_order @ a).reshape(ni, 4), ptype.free_order, out=self._rhs_array[:ni])
        t1 = time.perf_counter()
        pc.setUp()  # numeric factorisation only: the pattern never changes
        t2 = time.perf_counter()
        pc.getFactorMatrix().matSolve(self._rhs, self._sol)
        t3 = time.perf_counter()
        tm["assembly"] += t1 - t0
        tm["factorization"] += t2 - t1
        tm["solves"] += t3 - t2
        return self._sol_array[:ni], self._sol_array[ni:]

    def _solve_schur(self, ptype: _PatchType, a: np.ndarray):
        """Q (fine unknowns in interior order) and μ (all multipliers) of one patch."""
        mat, _, pc = self._petsc
        tm = self.timings
        nc = ptype.constrained.size
        t0 = time.perf_counter()
        self._data[:] = (self.w_stiffness @ a)[self.int_entries] * ptype.keep
        self._data[ptype.unit_diag] = 1.0
        mat.stateIncrease()
        ptype.rhs_array[:, nc:] = (self.w_load @ a).reshape(self.n_int, 4) * ptype.free[:, None]
        t1 = time.perf_counter()
        pc.setUp()
        t2 = time.perf_counter()
        pc.getFactorMatrix().matSolve(ptype.rhs, ptype.sol)
        t3 = time.perf_counter()
        y = ptype.sol_array
        cy = ptype.constraint @ y  # [C K^{-1} C^T, C K^{-1} b]
        mu = np.zeros((self.s**2, 4))
        mu[ptype.constrained] = np.linalg.solve(cy[:, :nc], cy[:, nc:])
        q = y[:, nc:] - y[:, :nc] @ mu[ptype.constrained]
        tm["assembly"] += t1 - t0
        tm["factorization"] += t2 - t1
        tm["solves"] += t3 - t2
        tm["products"] += time.perf_counter() - t3
        return q, mu

    def local_matrices(self, coefficient: np.ndarray, elements: np.ndarray | None = None) -> np.ndarray:
        """Padded local PG-LOD matrices S_{A,T}, eq. (3.9), for the given elements (default all).

        Parameters
        ----------
        coefficient : fine ``[iy, ix]`` array of shape (n_coarse n_sub, n_coarse n_sub).
        elements : coarse elements ``t = ty * n_coarse + tx``.

        Returns
        -------
        Array of shape ``(len(elements), (2ℓ+2)**2, 4)``: rows the padded patch nodes, columns
        T's 4 nodes (``lod_fenicsx.patch``); rows and columns of nodes not interior to D are 0.
        """
        return self._solve(coefficient, elements, mask=True)[0]

    def full_local_matrices(
        self, coefficient: np.ndarray, elements: np.ndarray | None = None
    ) -> np.ndarray:
        """As ``local_matrices`` but without zeroing the rows/columns of Dirichlet nodes.

        The columns of boundary nodes use the correctors of the boundary hats; with these the
        global matrix on all nodes has vanishing row and column sums (a check of eq. (3.9)).
        """
        return self._solve(coefficient, elements, mask=False)[0]

    def correctors(self, coefficient: np.ndarray, elements: np.ndarray | None = None) -> np.ndarray:
        """Element correctors Q_T λ_j, eq. (3.5), on the padded patch's fine nodes.

        Returns shape ``(len(elements), ((2ℓ+1) n + 1)**2, 4)``, fine nodes ``[iy, ix]`` C
        order, columns T's 4 hats; zero on the patch boundary and outside D.
        """
        return self._solve(coefficient, elements, mask=False, want_correctors=True)[1]

    def local_matrices_and_correctors(
        self, coefficient: np.ndarray, elements: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``local_matrices`` and ``correctors`` from one pass over the patches."""
        return self._solve(coefficient, elements, mask=True, want_correctors=True)

    def reset_timings(self):
        self.timings = defaultdict(float)


def patch_fine_nodes(n_coarse: int, n_sub: int, ell: int, t: int) -> np.ndarray:
    """Global fine node ``iy * (N n + 1) + ix`` of each padded-patch fine node of T (-1 outside D)."""
    ty, tx = divmod(int(t), n_coarse)
    m = (2 * ell + 1) * n_sub
    nf = n_coarse * n_sub
    gy = (ty - ell) * n_sub + np.arange(m + 1)
    gx = (tx - ell) * n_sub + np.arange(m + 1)
    inside = ((gy >= 0) & (gy <= nf))[:, None] & ((gx >= 0) & (gx <= nf))[None, :]
    return np.where(inside, gy[:, None] * (nf + 1) + gx[None, :], -1).ravel()
