"""PETSc backend of ``PatchSolver``: one sparse LDL^T of the saddle point matrix per patch.

Everything that does not depend on A is built once on the reference patch from the Q1
templates (``lod_fenicsx.q1``):

* the fine stiffness K(A) as a fixed CSR pattern whose values are ``W_K @ R_T(A)`` (one
  sparse product per patch, no loop over cells);
* the element loads b_j = (A∇λ_j, ∇w)_T and the products (A∇λ_j, ∇λ_i)_T, linear in R_T(A)
  as well;
* the constraint matrix C = I_H (weight 1/n_z = 1/2^d) of the padded patch.

The reference patch is a square (d = 2) or a cube (d = 3) of unit fine cells; the index
arithmetic is written once for both.

The matrix [K C^T; C 0] is ordered with the fine nodes first, in a fill-reducing order (AMD),
and the multipliers last; its LDL^T (PETSc's native Cholesky, no pivoting needed in this
order) then ends with the Schur complement −C K^{-1} C^T, so that one factorisation and one
solve with the 2^d element loads give Q and μ. Eliminated unknowns are unit rows, so that all
patches share one sparsity pattern and one symbolic factorisation (options prefix ``lod_``,
e.g. ``-lod_pc_factor_mat_solver_type mumps``). All PETSc objects live on COMM_SELF.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from lod_fenicsx.interpolation import patch_interpolation_matrix, prolongation
from lod_fenicsx.patch import constrained_coarse_nodes, element_node_positions, free_fine_nodes
from lod_fenicsx.q1 import reference_element_matrices
from lod_fenicsx.threads import blas_threads
from lod_fenicsx.timing import phase


def _index_grid(*sizes):
    """Flattened index arrays of the tensor grid ``range(sizes[0]) x range(sizes[1]) x ...``."""
    return (g.ravel() for g in np.meshgrid(*(np.arange(k) for k in sizes), indexing="ij"))


def _csr_pattern(rows: np.ndarray, cols: np.ndarray, size: int):
    """CSR pattern of the (row, col) pairs and the position of every pair in it."""
    keys = rows.astype(np.int64) * size + cols
    unique, where = np.unique(keys, return_inverse=True)
    indptr = np.zeros(size + 1, dtype=PETSc.IntType)
    np.cumsum(np.bincount(unique // size, minlength=size), out=indptr[1:])
    return indptr, (unique % size).astype(PETSc.IntType), where


class _PatchType:
    """The saddle point matrix and the products of S_{A,T} for patches of one type.

    S_{A,T} is evaluated without forming K_full(A) Q: on the free rows K Q = b − C^T μ, so

        S_{A,T} = [W_elem − P_int^T W_load] R_T(A) + (C P_int)^T μ − P_r^T (K_r(A) Q),

    with r the rows of the patch nodes that are not free (patch boundary, ∂D, outside D).
    """

    def __init__(self, be: PetscBackend, key: tuple[int, ...]):
        free = free_fine_nodes(key, be.n_sub, be.ell)
        constrained = constrained_coarse_nodes(key, be.ell)
        keep = free[be.int_rows] & free[be.int_cols]
        # Constraint rows of this type (zero rows for unconstrained nodes, zero eliminated columns).
        c_type = be.patch_interp_int * constrained[:, None] * free[None, :]
        # S = elem_weights @ a + flux_mu @ μ
        #     − boundary_hats @ ((boundary_stiffness @ a) * Q[boundary_q]).
        self.elem_weights = be.element_weights(free)
        self.flux_mu = be.p_int_t @ c_type.T
        free_all = np.zeros(be.n_all, dtype=bool)
        free_all[be.interior] = free
        sel = np.flatnonzero(~free_all[be.full_rows] & free_all[be.full_cols])
        self.boundary_stiffness = be.w_stiffness[sel]
        self.boundary_q = be.q_position[be.number[be.full_cols[sel]]]
        # Sparse: a fine node sees at most 2^d hats, and a dense copy per type would outgrow
        # everything else in 3-D (up to (2ℓ+1)^3 types of s^3 x (boundary entries) each).
        self.boundary_hats = sp.csr_matrix(be.p_dense[be.full_rows[sel]].T)
        # Saddle matrix values of a patch: (W_aug @ a) * keep + matrix_const (permuted CSR
        # order); the 0/1 mask per type instead of a masked copy of W_aug saves memory in 3-D.
        k_const = np.zeros(keep.size)
        k_const[be.int_diag[~free]] = 1.0
        c_values = c_type[be.c_rows, be.c_cols]
        n_rest = 2 * c_values.size + be.s**be.dim
        self.matrix_keep = np.r_[keep, np.zeros(n_rest, dtype=bool)][be.aug_source]
        self.matrix_const = np.r_[k_const, c_values, c_values, (~constrained).astype(float)][
            be.aug_source
        ]
        self.free_order = free[be.order][:, None]


class PetscBackend:
    """Correctors by a sparse LDL^T of [K C^T; C 0] per patch (PETSc, CPU, one patch at a time).

    Parameters
    ----------
    n_sub, ell : fine cells per coarse element and oversampling layers of the reference patch.
    factor_solver : PETSc factorisation package, ``-lod_pc_factor_mat_solver_type`` overrides it.
    dim : space dimension d (2 or 3) of the patch.
    """

    name = "petsc"
    batch_size = 64  # coefficient windows R_T(A) gathered at once

    def __init__(self, n_sub: int, ell: int, factor_solver: str = "petsc", dim: int = 2):
        self.n_sub, self.ell, self.factor_solver = int(n_sub), int(ell), factor_solver
        self.dim = d = int(dim)
        n = self.n_sub
        self.m = m = (2 * ell + 1) * n  # fine cells per side of the padded patch
        self.s = s = 2 * ell + 2  # coarse nodes per side of the padded patch
        self.n_local = nl = 2**d  # nodes of a cell: T's hats, the columns of S_{A,T}
        k_ref, _ = reference_element_matrices(d)
        self.n_all = n_all = (m + 1) ** d
        n_cells, nodes_shape = m**d, (m + 1,) * d

        cell_index = np.indices((m,) * d).reshape(d, -1)
        corners = np.ravel_multi_index(tuple(np.indices((2,) * d).reshape(d, -1)), nodes_shape)
        cell_nodes = np.ravel_multi_index(tuple(cell_index), nodes_shape)[:, None] + corners
        # Stiffness on all patch nodes as CSR data: data = W_K @ a (a = R_T(A)).
        c, a, b = _index_grid(n_cells, nl, nl)
        indptr, self.full_cols, where = _csr_pattern(cell_nodes[c, a], cell_nodes[c, b], n_all)
        self.w_stiffness = sp.csr_matrix(
            (k_ref[a, b], (where, c)), shape=(self.full_cols.size, n_cells)
        )
        self.full_rows = np.repeat(np.arange(n_all), np.diff(indptr))
        # Interior nodes (the fine unknowns) and the sub-pattern of K on them.
        node_index = np.indices(nodes_shape).reshape(d, -1)
        interior = np.all((node_index > 0) & (node_index < m), axis=0)
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
        p = prolongation(2 * ell + 1, n, d)  # (n_all, s^d)
        self.p_dense = p.toarray()
        self.p_int_t = np.ascontiguousarray(self.p_dense[self.interior].T)
        t_nodes = element_node_positions(ell, d)
        t_cells = np.flatnonzero(np.all(cell_index // n == ell, axis=0))
        hats_t = self.p_dense[:, t_nodes][cell_nodes[t_cells]]  # (cells of T, nl local, nl hats)
        # Element loads b_j = (A∇λ_j, ∇w)_T on interior nodes: (n_int * nl) = W_load @ a.
        grad = np.einsum("ab,cbj->caj", k_ref, hats_t)
        c, a, j = _index_grid(t_cells.size, nl, nl)
        node = self.number[cell_nodes[t_cells][c, a]]
        unknown = node >= 0  # T's nodes on the patch boundary (ℓ = 0) carry no unknown
        c, a, j, node = c[unknown], a[unknown], j[unknown], node[unknown]
        self.w_load = sp.csr_matrix(
            (grad[c, a, j], (node * nl + j, t_cells[c])), shape=(self.n_int * nl, n_cells)
        )
        self.load_nodes = np.unique(node)  # interior nodes where the element loads live
        self._element_weights: dict[bytes, sp.csr_matrix] = {}
        # (A∇λ_j, ∇λ_i)_T for all patch nodes i: (s^d * nl) = W_elem @ a.
        hats_all = self.p_dense[cell_nodes[t_cells]]  # (cells of T, nl local, s^d)
        local = np.einsum("cai,ab,cbj->cij", hats_all, k_ref, hats_t)
        c, i, j = _index_grid(t_cells.size, s**d, nl)
        self.w_element = sp.csr_matrix(
            (local[c, i, j], (i * nl + j, t_cells[c])), shape=(s**d * nl, n_cells)
        )
        # I_H of the padded patch on the interior fine nodes, and its sparsity pattern.
        self.patch_interp_int = patch_interpolation_matrix(ell, n, d)[:, self.interior]
        self.c_rows, self.c_cols = np.nonzero(self.patch_interp_int)
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
        ni, s2, nl = self.n_int, self.s**self.dim, self.n_local
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
        self.q_position = np.empty(ni, dtype=np.int64)  # interior node -> row of the solution
        self.q_position[self.order] = np.arange(ni)
        rows_load = (self.order[:, None] * nl + np.arange(nl)[None, :]).ravel()
        self.w_load_order = self.w_load[rows_load]
        size = ni + s2
        self._rhs_array = np.zeros((size, nl), order="F")
        self._sol_array = np.zeros((size, nl), order="F")
        self._rhs = PETSc.Mat().createDense((size, nl), array=self._rhs_array, comm=comm)
        self._sol = PETSc.Mat().createDense((size, nl), array=self._sol_array, comm=comm)
        self._data = np.zeros(indices.size)
        mat = PETSc.Mat().createAIJWithArrays(
            (size, size), (indptr, indices, self._data), comm=comm
        )
        mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        ksp = PETSc.KSP().create(comm)
        ksp.setOptionsPrefix("lod_")
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType(self.factor_solver)
        pc.setFactorOrdering("natural")
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
            nl = self.n_local
            rows = np.repeat(free, nl).astype(float)
            masked_load = sp.diags(rows) @ self.w_load
            p_load = sp.kron(sp.csr_matrix(self.p_int_t), sp.eye(nl), format="csr") @ masked_load
            self._element_weights[key] = (self.w_element - p_load).tocsr()
        return self._element_weights[key]

    def _type(self, key) -> _PatchType:
        if key not in self._types:
            self._types[key] = _PatchType(self, key)
        return self._types[key]

    def close(self):
        """Destroy the PETSc objects (also done at garbage collection)."""
        self._types.clear()
        if self._petsc is not None:
            mat, ksp, _ = self._petsc
            for obj in (ksp, mat, self._rhs, self._sol):
                obj.destroy()
            self._petsc = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def solve(self, keys, windows: np.ndarray, want_correctors: bool):
        """Unmasked S_{A,T} ``(k, s^d, 2^d)`` of k patches and, if wanted, their correctors.

        The correctors Q_T λ_j: ``(k, n_all, 2^d)``.
        """
        if self._petsc is None:
            raise RuntimeError("PatchSolver was closed")
        k, nl = len(windows), self.n_local
        out = np.zeros((k, self.s**self.dim, nl))
        corr = np.zeros((k, self.n_all, nl)) if want_correctors else None
        # The per-patch dense work is far too small to gain from BLAS threads, and threads
        # would oversubscribe the cores under MPI.
        with blas_threads(1):
            for i, (key, a) in enumerate(zip(keys, windows)):
                self._solve_one(
                    self._type(tuple(key)), a, out[i], None if corr is None else corr[i]
                )
        return out, corr

    def _solve_one(
        self, ptype: _PatchType, a: np.ndarray, out: np.ndarray, corr: np.ndarray | None
    ):
        """S_{A,T} of one patch into ``out`` and, if given, its correctors into ``corr``."""
        q, mu = self._solve_saddle(ptype, a)
        with phase(self.timings, "products", event="patch_products"):
            boundary_flux = (ptype.boundary_stiffness @ a)[:, None] * q[ptype.boundary_q]
            out[:] = (ptype.elem_weights @ a).reshape(-1, self.n_local) + ptype.flux_mu @ mu
            out -= ptype.boundary_hats @ boundary_flux
            if corr is not None:
                corr[self.interior] = q[self.q_position]

    def _solve_saddle(self, ptype: _PatchType, a: np.ndarray):
        """Q (fine unknowns in factorisation order) and μ (all multipliers) of one patch."""
        mat, _, pc = self._petsc
        tm = self.timings
        ni = self.n_int
        with phase(tm, "assembly", event="patch_assembly"):
            np.multiply(self.w_aug @ a, ptype.matrix_keep, out=self._data)
            self._data += ptype.matrix_const
            mat.stateIncrease()  # PETSc shares self._data: mark the values changed
            np.multiply(
                (self.w_load_order @ a).reshape(ni, self.n_local),
                ptype.free_order,
                out=self._rhs_array[:ni],
            )
        with phase(tm, "factorization", event="patch_factorization"):
            pc.setUp()  # numeric factorisation only: the pattern never changes
        with phase(tm, "solves", event="patch_solves"):
            pc.getFactorMatrix().matSolve(self._rhs, self._sol)
        return self._sol_array[:ni], self._sol_array[ni:]
