"""Element correctors Q_T λ_j and local PG-LOD matrices S_{A,T} (paper 000, eqs. (3.5), (3.9)).

All padded patches share one geometry (``lod_fenicsx.patch``): a square of (2ℓ+1)^2 coarse
elements, each cut into n x n fine cells, the coefficient being 0 outside D. Everything that
does not depend on A is built once on this reference patch from the DOLFINx Q1 templates:

* the fine stiffness K(A) on the free fine nodes (inside the patch and inside D) as a fixed
  CSR pattern whose values are ``W_K @ R_T(A)`` (one sparse mat-vec, no loop over cells);
* the constraint matrix C = I_H restricted to the free fine nodes and to the coarse nodes of
  the patch interior to D (n_z = 4 there), one per position of the patch relative to ∂D;
* the element loads b_j = (A∇λ_j, ∇w)_T, the term (A∇λ_j, ∇λ_i)_T and the coupling
  P^T K_full(A)[:, free], all linear in R_T(A), again as fixed sparse weight matrices.

Per patch the saddle point problem  [K C^T; C 0] [Q; μ] = [b; 0]  is solved by a Schur
complement with one sparse Cholesky factorisation of K (PETSc, options prefix ``lod_``)
and one multi-right-hand-side solve ``K^{-1} [C^T b]``:

    μ = (C K^{-1} C^T)^{-1} C K^{-1} b,     Q = K^{-1} b - K^{-1} C^T μ,
    S_{A,T} = P^T G(A) - P^T K_full(A)[:, free] Q.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from petsc4py import PETSc

from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.discretization import reference_element_matrices
from lod_fenicsx.interpolation import patch_interpolation_matrix, prolongation
from lod_fenicsx.patch import element_node_positions, padded_cell_indices, padded_node_indices, pad_field

PHASES = ("assembly", "factorization", "solves", "products")


def _csr_pattern(rows: np.ndarray, cols: np.ndarray, size: int):
    """CSR pattern of the (row, col) pairs and the position of every pair in it."""
    keys = rows.astype(np.int64) * size + cols
    unique, where = np.unique(keys, return_inverse=True)
    indptr = np.zeros(size + 1, dtype=PETSc.IntType)
    np.cumsum(np.bincount(unique // size, minlength=size), out=indptr[1:])
    return indptr, (unique % size).astype(PETSc.IntType), where


class _PatchType:
    """The A-independent data of all patches at one position relative to ∂D.

    ``key = (ay, by, ax, bx)``: in padded coarse coordinates the part of D inside the patch
    is the open box ``(ay, by) x (ax, bx)`` clipped to the patch (−1 / 2ℓ+2 mean the box
    extends beyond the patch on that side).
    """

    def __init__(self, ps: "PatchSolver", key: tuple[int, int, int, int]):
        ay, by, ax, bx = key
        n, m, s = ps.n_sub, ps.m, ps.s

        def free_1d(a, b):
            return np.arange(max(0, a * n) + 1, min(m, b * n))

        def constrained_1d(a, b):
            return np.arange(a + 1, min(b, s))

        fy, fx = free_1d(ay, by), free_1d(ax, bx)
        self.free = (fy[:, None] * (m + 1) + fx[None, :]).ravel()
        ky, kx = constrained_1d(ay, by), constrained_1d(ax, bx)
        self.constrained = (ky[:, None] * s + kx[None, :]).ravel()
        nf, nc = self.free.size, self.constrained.size
        self.n_free, self.n_constraints = nf, nc
        pos = np.full((m + 1) ** 2, -1)
        pos[self.free] = np.arange(nf)

        cells = np.arange(m * m)
        node_pos = pos[ps.cell_nodes]  # (cells, 4)
        k_ref = ps.k_ref

        # Stiffness on free x free: data = W_K @ A_patch.
        c, a, b = np.nonzero((node_pos[:, :, None] >= 0) & (node_pos[:, None, :] >= 0))
        self.indptr, self.indices, where = _csr_pattern(node_pos[c, a], node_pos[c, b], nf)
        self.w_stiffness = sp.csr_matrix(
            (k_ref[a, b], (where, cells[c])), shape=(self.indices.size, m * m)
        )
        # Element loads b_j = (A∇λ_j, ∇w)_T on free w: (nf * 4) = W_b @ A_patch.
        t_cells = ps.element_cells
        grad_t = np.einsum("ab,cbj->caj", k_ref, ps.cell_hats_t)  # (cells of T, 4 local, 4 hats)
        c, a, j = np.nonzero((node_pos[t_cells] >= 0)[:, :, None] & np.ones((1, 1, 4), bool))
        self.w_load = sp.csr_matrix(
            (grad_t[c, a, j], (node_pos[t_cells][c, a] * 4 + j, t_cells[c])), shape=(nf * 4, m * m)
        )
        # Coupling P^T K_full[:, free]: (s^2 * nf) = W_M @ A_patch (dense (s^2, nf) per patch).
        hats_k = np.einsum("cak,ab->cbk", ps.cell_hats, k_ref)  # (cells, 4 local b, 4 parent hats)
        c, b_, k = np.nonzero((node_pos >= 0)[:, :, None] & np.ones((1, 1, 4), bool))
        rows = ps.cell_parent_nodes[c, k] * nf + node_pos[c, b_]
        self.w_coupling = sp.csr_matrix(
            (hats_k[c, b_, k], (rows, cells[c])), shape=(s * s * nf, m * m)
        )
        # Constraint matrix C (nc, nf), dense: I_H rows of constrained nodes on free columns.
        self.constraint = np.ascontiguousarray(ps.patch_interp[np.ix_(self.constrained, self.free)])

        # PETSc objects, reused by every patch of this type (same nonzero pattern).
        comm = PETSc.COMM_SELF
        self.data = np.zeros(self.indices.size)
        self.mat = PETSc.Mat().createAIJ((nf, nf), csr=(self.indptr, self.indices, self.data), comm=comm)
        self.mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        self.mat.setOption(PETSc.Mat.Option.SPD, True)
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix("lod_")
        self.ksp.setType("preonly")
        self.pc = pc = self.ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType(ps.factor_solver)
        if ps.factor_solver == "petsc":
            pc.setFactorOrdering("nd")
        self.ksp.setOperators(self.mat)
        self.ksp.setFromOptions()
        self.rhs_array = np.zeros((nf, nc + 4), order="F")
        self.rhs_array[:, :nc] = self.constraint.T
        self.sol_array = np.zeros((nf, nc + 4), order="F")
        self.rhs = PETSc.Mat().createDense((nf, nc + 4), array=self.rhs_array, comm=comm)
        self.sol = PETSc.Mat().createDense((nf, nc + 4), array=self.sol_array, comm=comm)
        # createDense may copy: work through PETSc's own storage.
        self.rhs_view = self.rhs.getDenseArray(readonly=False)
        self.sol_view = self.sol.getDenseArray(readonly=True)

    def destroy(self):
        for obj in (self.ksp, self.mat, self.rhs, self.sol):
            obj.destroy()


class PatchSolver:
    """Element correctors and local PG-LOD matrices for every patch of one discretization.

    Parameters
    ----------
    n_coarse : coarse elements per side N_H.
    n_sub : fine cells per coarse element per side n.
    ell : oversampling layers ℓ of the patches N^ℓ(T).
    factor_solver : PETSc factorisation package for K ("petsc", "cholmod", "mumps"); it
        can still be overridden with ``-lod_pc_factor_mat_solver_type``.

    All PETSc objects live on COMM_SELF: the solver is meant to be used independently on
    every rank (patches or whole samples distributed by the caller).
    """

    def __init__(self, n_coarse: int, n_sub: int, ell: int, factor_solver: str = "cholmod"):
        if n_coarse < 1 or n_sub < 1 or ell < 0:
            raise ValueError(f"need n_coarse >= 1, n_sub >= 1, ell >= 0; got {n_coarse}, {n_sub}, {ell}")
        self.n_coarse, self.n_sub, self.ell = int(n_coarse), int(n_sub), int(ell)
        self.factor_solver = factor_solver
        n, ell = self.n_sub, self.ell
        self.m = m = (2 * ell + 1) * n  # fine cells per side of the padded patch
        self.s = s = 2 * ell + 2  # coarse nodes per side of the padded patch
        self.k_ref, _ = reference_element_matrices()

        cy, cx = np.divmod(np.arange(m * m), m)
        self.cell_nodes = (cy * (m + 1) + cx)[:, None] + np.array([0, 1, m + 1, m + 2])[None, :]
        # Parent coarse element of each fine cell and its 4 nodes in the padded node order.
        py, px = cy // n, cx // n
        self.cell_parent_nodes = (py * s + px)[:, None] + np.array([0, 1, s, s + 1])[None, :]
        # Values of the parent's 4 hats at each cell's 4 fine nodes: (cells, 4 local, 4 hats).
        p_patch = prolongation(2 * ell + 1, n).toarray()  # ((m+1)^2, s^2)
        self.cell_hats = p_patch[self.cell_nodes[:, :, None], self.cell_parent_nodes[:, None, :]]
        # T's fine cells and the values of T's hats there (T's hats = its parent hats).
        self.element_cells = np.flatnonzero((py == ell) & (px == ell))
        self.cell_hats_t = self.cell_hats[self.element_cells]
        # (A∇λ_j, ∇λ_i)_T for all patch nodes i: (s^2 * 4) = W_0 @ A_patch.
        local = np.einsum("cai,ab,cbj->cij", self.cell_hats_t, self.k_ref, self.cell_hats_t)
        t_nodes = element_node_positions(ell)
        if not np.array_equal(self.cell_parent_nodes[self.element_cells[0]], t_nodes):
            raise AssertionError("element node order disagrees with lod_fenicsx.patch")
        c, i, j = np.nonzero(np.ones_like(local, dtype=bool))
        self.w_element = sp.csr_matrix(
            (local[c, i, j], (t_nodes[i] * 4 + j, self.element_cells[c])), shape=(s * s * 4, m * m)
        )
        self.patch_interp = patch_interpolation_matrix(ell, n)
        self.cell_index = padded_cell_indices(self.n_coarse, n, ell)
        self.node_index = padded_node_indices(self.n_coarse, ell)
        self._types: dict[tuple, _PatchType] = {}
        self.timings = defaultdict(float)

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

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

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
        s2 = self.s * self.s
        out = np.zeros((elements.size, s2, 4))
        corr = np.zeros((elements.size, (self.m + 1) ** 2, 4)) if want_correctors else None
        padded = pad_field(coefficient, self.n_sub, self.ell).ravel()
        keys = [self.type_key(t) for t in elements]
        groups = defaultdict(list)
        for i, key in enumerate(keys):
            groups[key].append(i)
        tm = self.timings
        for key, idx in groups.items():
            ptype = self._type(key)
            nc, nf = ptype.n_constraints, ptype.n_free
            for start in range(0, len(idx), 64):  # chunks bound the memory of the batched weights
                chunk = np.asarray(idx[start : start + 64])
                t0 = time.perf_counter()
                a_patch = padded[self.cell_index[elements[chunk]]].T  # (m^2, chunk)
                k_data = np.asarray(ptype.w_stiffness @ a_patch)
                loads = np.asarray(ptype.w_load @ a_patch)
                coupling = np.asarray(ptype.w_coupling @ a_patch)
                s_elem = np.asarray(self.w_element @ a_patch)
                tm["assembly"] += time.perf_counter() - t0
                for col, i in enumerate(chunk):
                    t0 = time.perf_counter()
                    ptype.mat.setValuesCSR(ptype.indptr, ptype.indices, k_data[:, col])
                    ptype.mat.assemble()
                    ptype.rhs_view[:, nc:] = loads[:, col].reshape(nf, 4)
                    t1 = time.perf_counter()
                    ptype.pc.setUp()  # re-factors numerically: same pattern, new values
                    t2 = time.perf_counter()
                    ptype.pc.getFactorMatrix().matSolve(ptype.rhs, ptype.sol)
                    t3 = time.perf_counter()
                    y = ptype.sol_view
                    cy = ptype.constraint @ y  # (nc, nc + 4)
                    if nc:
                        mu = sla.solve(cy[:, :nc], cy[:, nc:], assume_a="pos", check_finite=False)
                        q = y[:, nc:] - y[:, :nc] @ mu
                    else:
                        q = y[:, nc:].copy()
                    m_pt = coupling[:, col].reshape(s2, nf)
                    out[i] = s_elem[:, col].reshape(s2, 4) - m_pt @ q
                    if want_correctors:
                        corr[i, ptype.free] = q
                    t4 = time.perf_counter()
                    tm["assembly"] += t1 - t0
                    tm["factorization"] += t2 - t1
                    tm["solves"] += t3 - t2
                    tm["products"] += t4 - t3
        if mask:
            nodes = self.node_index[elements]  # (k, s^2), -1 where not interior to D
            out[nodes < 0, :] = 0.0
            cols = nodes[:, element_node_positions(self.ell)]  # (k, 4)
            out[np.broadcast_to(cols[:, None, :] < 0, out.shape)] = 0.0
        return out, corr

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

    def full_local_matrices(self, coefficient: np.ndarray, elements: np.ndarray | None = None) -> np.ndarray:
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

    def reset_timings(self):
        self.timings = defaultdict(float)


def patch_fine_nodes(n_coarse: int, n_sub: int, ell: int, t: int) -> np.ndarray:
    """Global fine node ``iy * (N n + 1) + ix`` of each padded patch fine node of element t (-1 outside D)."""
    ty, tx = divmod(int(t), n_coarse)
    m = (2 * ell + 1) * n_sub
    nf = n_coarse * n_sub
    gy = (ty - ell) * n_sub + np.arange(m + 1)
    gx = (tx - ell) * n_sub + np.arange(m + 1)
    inside = ((gy >= 0) & (gy <= nf))[:, None] & ((gx >= 0) & (gx <= nf))[None, :]
    return np.where(inside, gy[:, None] * (nf + 1) + gx[None, :], -1).ravel()
