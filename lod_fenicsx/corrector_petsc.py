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

The matrix [K C^T; C 0] is ordered with the fine nodes first, in a fill-reducing order, and
the multipliers last; its LDL^T (no pivoting needed in this order) then ends with the Schur
complement −C K^{-1} C^T, so that one factorisation and one solve with the 2^d element loads
give Q and μ. Eliminated unknowns are unit rows, so that all patches share one sparsity
pattern and one symbolic factorisation (options prefix ``lod_``, e.g.
``-lod_pc_factor_mat_solver_type mumps``). All PETSc objects live on COMM_SELF.

The factorisation package depends on d (``default_factor_solver``). 2-D: PETSc's native
Cholesky in AMD order, unchanged (Q bit for bit as before). 3-D: MUMPS, which orders the
matrix again by itself (PORD) and pivots where needed; its multifrontal LDL^T runs on dense
BLAS-3 fronts, where the native one eliminates row by row without BLAS: on an interior patch
of n = 4, ℓ = 1 (11^3 fine unknowns, 64 multipliers, 20 Mflop) a factorisation took 2.0 ms of
CPU against 7.1 ms. Without MUMPS, 3-D falls back to the native Cholesky in nested-dissection
order.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from functools import cached_property, lru_cache

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from lod_fenicsx.interpolation import (
    patch_interpolation_entries,
    patch_interpolation_matrix,
    prolongation,
)
from lod_fenicsx.boundary import free_nodes, neumann_mask
from lod_fenicsx.patch import (
    constrained_coarse_nodes,
    element_node_positions,
    elements_in_domain,
    free_fine_nodes,
    open_faces,
)
from lod_fenicsx.q1 import reference_element_matrices
from plumbing.threads import blas_threads
from plumbing.timing import phase


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


@lru_cache(maxsize=4)
def _patch_geometry(n_sub: int, ell: int, dim: int) -> dict:
    """What does not depend on which nodes are unknowns: the cells' nodes, the stiffness on all
    patch nodes as CSR data (data = W_K @ a, a = R_T(A)), the coarse hats on the fine nodes and
    (A∇λ_j, ∇λ_i)_T for all patch nodes i (W_elem @ a). Shared by a backend and its twins."""
    d, nl, s = dim, 2**dim, 2 * ell + 2
    m = (2 * ell + 1) * n_sub
    n_all, n_cells, nodes_shape = (m + 1) ** d, m**d, (m + 1,) * d
    k_ref, _ = reference_element_matrices(d)
    cell_index = np.indices((m,) * d).reshape(d, -1)
    corners = np.ravel_multi_index(tuple(np.indices((2,) * d).reshape(d, -1)), nodes_shape)
    cell_nodes = np.ravel_multi_index(tuple(cell_index), nodes_shape)[:, None] + corners
    c, a, b = _index_grid(n_cells, nl, nl)
    indptr, full_cols, where = _csr_pattern(cell_nodes[c, a], cell_nodes[c, b], n_all)
    w_stiffness = sp.csr_matrix((k_ref[a, b], (where, c)), shape=(full_cols.size, n_cells))
    p_dense = prolongation(2 * ell + 1, n_sub, d).toarray()  # (n_all, s^d)
    t_nodes = element_node_positions(ell, d)
    t_cells = np.flatnonzero(np.all(cell_index // n_sub == ell, axis=0))
    hats_t = p_dense[:, t_nodes][cell_nodes[t_cells]]  # (cells of T, nl local, nl hats)
    hats_all = p_dense[cell_nodes[t_cells]]  # (cells of T, nl local, s^d)
    local = np.einsum("cai,ab,cbj->cij", hats_all, k_ref, hats_t)
    c, i, j = _index_grid(t_cells.size, s**d, nl)
    w_element = sp.csr_matrix(
        (local[c, i, j], (i * nl + j, t_cells[c])), shape=(s**d * nl, n_cells)
    )
    for array in (cell_index, cell_nodes, full_cols, p_dense):
        array.flags.writeable = False
    return dict(
        cell_index=cell_index,
        cell_nodes=cell_nodes,
        full_cols=full_cols,
        full_rows=np.repeat(np.arange(n_all), np.diff(indptr)),
        w_stiffness=w_stiffness,
        p_dense=p_dense,
        w_element=w_element,
    )


def _map_faces(mask: np.ndarray, perm: tuple[int, ...], flip: tuple[bool, ...]) -> np.ndarray:
    """A ``(d, 2)`` face mask seen from the box moved by the symmetry (perm, flip): new axis i
    is old axis perm[i], reflected where flip[i] (its two faces swapped)."""
    out = np.asarray(mask)[list(perm)].copy()
    flip = np.asarray(flip, dtype=bool)
    out[flip] = out[flip, ::-1]
    return out


def _symmetry_gather(side: int, dim: int, perm, flip) -> np.ndarray:
    """Gather index of a ``(side,) * dim`` grid (C order) moved by the symmetry (perm, flip):
    ``new = old[..., index]``."""
    index = np.arange(side**dim).reshape((side,) * dim).transpose(perm)
    flipped = tuple(int(i) for i in np.flatnonzero(flip))
    return (np.flip(index, axis=flipped) if flipped else index).ravel()


def fill_reducing_order(indptr, indices, kind: str) -> np.ndarray:
    """Fill-reducing order of a symmetric CSR pattern by PETSc's ordering ``kind`` ("amd",
    "nd", ...): the unknown to put first, second, ..."""
    n = len(indptr) - 1
    csr = (np.asarray(indptr, PETSc.IntType), np.asarray(indices, PETSc.IntType))
    pattern = PETSc.Mat().createAIJ((n, n), csr=(*csr, np.ones(len(indices))), comm=PETSc.COMM_SELF)
    rperm, cperm = pattern.getOrdering(kind)
    order = rperm.getIndices().copy()
    for obj in (rperm, cperm, pattern):
        obj.destroy()
    return order


def cholesky_solver(mat, factor_solver: str):
    """(KSP, PC) that solve with a Cholesky factorisation of ``mat``, already in its
    fill-reducing order (options prefix ``lod_``, e.g. ``-lod_pc_factor_mat_solver_type``)."""
    mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    ksp = PETSc.KSP().create(PETSc.COMM_SELF)
    ksp.setOptionsPrefix("lod_")
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("cholesky")
    pc.setFactorSolverType(factor_solver)
    pc.setFactorOrdering("natural")
    ksp.setOperators(mat)
    ksp.setFromOptions()
    return ksp, pc


class _PatchType:
    """The saddle point matrix and the products of S_{A,T} for patches of one type.

    S_{A,T} is evaluated without forming K_full(A) Q: on the free rows K Q = b − C^T μ, so

        S_{A,T} = [W_elem − P_int^T W_load] R_T(A) + (C P_int)^T μ − P_r^T (K_r(A) Q),

    with r the rows of the patch nodes that are not free (patch boundary, ∂D, outside D).
    """

    def __init__(self, be: PetscBackend, key: tuple[int, ...]):
        free = free_fine_nodes(key, be.n_sub, be.ell, be.neumann, be.faces)
        constrained = constrained_coarse_nodes(key, be.ell, be.neumann)
        keep = free[be.int_rows] & free[be.int_cols]
        # Constraint rows of this type (zero rows for unconstrained nodes, zero eliminated columns).
        # A node on a Neumann face is constrained, and its neighbours outside D share its free
        # fine nodes: its row sums over the elements in D only (a subset of the shared pattern).
        interp = be.patch_interp_int
        if be.neumann.any() and constrained_coarse_nodes(key, be.ell).sum() < constrained.sum():
            position, values, element = be.interp_entries
            inside = elements_in_domain(key, be.ell)[element]
            interp = np.zeros_like(interp)
            interp[be.c_rows, be.c_cols] = np.bincount(
                position, values * inside, minlength=be.c_rows.size
            )
        c_type = interp * constrained[:, None] * free[None, :]
        # S = elem_weights @ a + flux_mu @ μ
        #     − boundary_hats @ ((boundary_stiffness @ a) * Q[boundary_q]).
        self.elem_weights = be.element_weights(free)
        self.flux_mu = be.p_int_t @ c_type.T
        free_all = np.zeros(be.n_all, dtype=bool)
        free_all[be.interior] = free
        sel = np.flatnonzero(~free_all[be.full_rows] & free_all[be.full_cols])
        self.boundary_stiffness = be.w_stiffness[sel]
        # K_r(A) as a CSR matrix whose values (boundary_stiffness @ a) are set per patch:
        # rows the nodes r, columns the fine unknowns in factorisation order.
        rows, first = np.unique(be.full_rows[sel], return_index=True)
        columns = be.q_position[be.number[be.full_cols[sel]]]
        self.boundary_matrix = sp.csr_matrix(
            (np.zeros(sel.size), columns, np.r_[first, sel.size]), shape=(rows.size, be.n_int)
        )
        # Sparse: a fine node sees at most 2^d hats, and a dense copy per type would outgrow
        # everything else in 3-D (up to (2ℓ+1)^3 types of s^3 x (boundary nodes) each).
        self.boundary_hats = sp.csr_matrix(be.p_dense[rows].T)
        # Saddle matrix values of a patch (permuted CSR order): W_aug @ a + matrix_const, then
        # the K entries of eliminated rows and columns reset to their constants (0, or 1 on
        # the diagonal). Positions instead of a mask or a masked copy of W_aug: interior
        # patches have none, and a copy per type would outgrow memory in 3-D.
        k_const = np.zeros(keep.size)
        k_const[be.int_diag[~free]] = 1.0
        c_values = c_type[be.c_rows, be.c_cols]
        n_rest = 2 * c_values.size + be.s**be.dim
        dropped = np.r_[~keep, np.zeros(n_rest, dtype=bool)][be.aug_source]
        self.matrix_const = np.r_[k_const, c_values, c_values, (~constrained).astype(float)][
            be.aug_source
        ]
        self.matrix_dropped = np.flatnonzero(dropped)
        self.dropped_values = self.matrix_const[self.matrix_dropped]
        self.free_load = free[be.load_nodes][:, None]
        self.free = free  # the free interior nodes (interior numbering)


# MUMPS settings for the patch matrices, unless given as -lod_mat_mumps_icntl_<k>: the PORD
# ordering (built into MUMPS; 17% fewer flops than the default AMF on the 3-D patch) and no
# scaling (the matrix is already scaled: A / 2^k, unit rows; scaling cost 15% of the time).
MUMPS_ICNTL = {7: 4, 8: 0}


MUMPS_ORDERINGS = {0: "AMD", 2: "AMF", 3: "SCOTCH", 4: "PORD", 5: "METIS", 6: "QAMD"}


def _has_package(name: str) -> bool:
    return bool(PETSc.Sys.hasExternalPackage(name))


def default_factor_solver(dim: int) -> str:
    """The factorisation package of the patch matrices in dimension ``dim`` (module docstring)."""
    if dim == 3 and _has_package("mumps"):
        return "mumps"
    return "petsc"


class PetscBackend:
    """Correctors by a sparse LDL^T of [K C^T; C 0] per patch (PETSc, CPU, one patch at a time).

    Parameters
    ----------
    n_sub, ell : fine cells per coarse element and oversampling layers of the reference patch.
    factor_solver : PETSc factorisation package, default ``default_factor_solver(dim)``;
        ``-lod_pc_factor_mat_solver_type`` overrides it.
    dim : space dimension d (2 or 3) of the patch.
    neumann : the Neumann faces of D (``lod_fenicsx.boundary``; None: all Dirichlet).
    faces : ``(d, 2)`` mask of faces of the padded patch whose nodes are fine unknowns too,
        besides those strictly inside it: for patches that have a Neumann face of D as a face
        of their own (``lod_fenicsx.patch.open_faces``). Such patches are handed to a twin
        with those faces (made on first use), the others stay on the smaller matrix, so that
        a Neumann run costs little more than an all-Dirichlet one. Twins are shared by the
        symmetries of the box that map the Neumann mask onto itself (``share_twins``).
    """

    name = "petsc"
    # Twins shared by symmetry: D is the unit cube, the patch a cube, Q1 and I_H symmetric, so
    # a patch whose open faces are the mirror (or axis swap) of another's is solved as that
    # image on one canonical twin (``_canonical``), and its results moved back. False: one twin
    # per signature of open faces (the tests compare the two).
    share_twins = True
    batch_size = 64  # coefficient windows R_T(A) gathered at once

    def __init__(
        self,
        n_sub: int,
        ell: int,
        factor_solver: str | None = None,
        dim: int = 2,
        neumann=None,
        faces=None,
    ):
        self.n_sub, self.ell, self.dim = int(n_sub), int(ell), int(dim)
        self.neumann = neumann_mask(neumann, self.dim)
        self.faces = np.zeros((self.dim, 2), dtype=bool) if faces is None else np.asarray(faces)
        self._twins: dict[bytes, PetscBackend] = {}
        self._canonical_cache: dict[bytes, tuple[int, bytes]] = {}  # ``_canonical``
        self._symmetry_cache: dict[int, dict] = {}  # ``_symmetry``
        self.factor_solver = factor_solver or default_factor_solver(self.dim)
        d = self.dim
        n = self.n_sub
        self.m = m = (2 * ell + 1) * n  # fine cells per side of the padded patch
        self.s = 2 * ell + 2  # coarse nodes per side of the padded patch
        self.n_local = nl = 2**d  # nodes of a cell: T's hats, the columns of S_{A,T}
        k_ref, _ = reference_element_matrices(d)
        self.n_all = n_all = (m + 1) ** d
        n_cells, nodes_shape = m**d, (m + 1,) * d
        geometry = _patch_geometry(n, ell, d)
        cell_index, cell_nodes = geometry["cell_index"], geometry["cell_nodes"]
        self.full_cols, self.full_rows = geometry["full_cols"], geometry["full_rows"]
        self.w_stiffness, self.p_dense = geometry["w_stiffness"], geometry["p_dense"]
        # Interior nodes (the fine unknowns) and the sub-pattern of K on them.
        node_index = np.indices(nodes_shape).reshape(d, -1)
        interior = free_nodes(node_index, m, self.faces)  # strictly inside, or on ``faces``
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
        self.w_element = geometry["w_element"]
        # I_H of the padded patch on the interior fine nodes, and its sparsity pattern.
        self.patch_interp_int = patch_interpolation_matrix(ell, n, d)[:, self.interior]
        self.c_rows, self.c_cols = np.nonzero(self.patch_interp_int)
        if self.neumann.any():  # I_H entries by element, at their position in the pattern
            rows, cols, values, element = patch_interpolation_entries(ell, n, d)
            unknown = (self.number[cols] >= 0) & (values != 0)
            pattern = self.c_rows * self.n_int + self.c_cols
            keys = rows[unknown] * self.n_int + self.number[cols][unknown]
            position = np.minimum(np.searchsorted(pattern, keys), pattern.size - 1)
            if not np.array_equal(pattern[position], keys):  # an entry whose sum is exactly 0
                raise RuntimeError("an I_H entry of the patch lies outside its sparsity pattern")
            self.interp_entries = (position, values[unknown], element[unknown])
        self._types: dict[tuple, _PatchType] = {}
        self.timings = defaultdict(float)
        self._setup_petsc()

    def _fill_reducing_order(self) -> np.ndarray:
        """Fill-reducing order of the interior fine nodes from K's pattern (PETSc).

        2-D: approximate minimum degree (SuiteSparse AMD through PETSc) gave 8% less fill and
        a faster factorisation than nested dissection on the 39 x 39 node patches of the
        paper (nested dissection is the fallback when AMD is not available). 3-D: nested
        dissection, with 8% less fill and a 22% faster native factorisation than AMD on the
        11^3-node patches (n = 4, ℓ = 1). MUMPS orders the matrix again by itself.
        """
        self._ordering = "amd" if self.dim == 2 else "nd"
        try:
            return fill_reducing_order(self.int_indptr, self.int_indices, self._ordering)
        except PETSc.Error:
            self._ordering = "nd"
            return fill_reducing_order(self.int_indptr, self.int_indices, self._ordering)

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
        # The element loads live on few nodes: only their rows of the right-hand side change.
        self.load_rows = self.q_position[self.load_nodes]
        self.w_load_nodes = self.w_load[(self.load_nodes[:, None] * nl + np.arange(nl)).ravel()]
        size = ni + s2
        self._rhs_array = np.zeros((size, nl), order="F")
        self._sol_array = np.zeros((size, nl), order="F")
        self._rhs = PETSc.Mat().createDense((size, nl), array=self._rhs_array, comm=comm)
        self._sol = PETSc.Mat().createDense((size, nl), array=self._sol_array, comm=comm)
        # One more right-hand side for the boundary loads (``solve(..., loads=...)``).
        self._rhs1_array, self._sol1_array = np.zeros(size), np.zeros(size)
        self._rhs1 = PETSc.Vec().createWithArray(self._rhs1_array, comm=comm)
        self._sol1 = PETSc.Vec().createWithArray(self._sol1_array, comm=comm)
        self._data = np.zeros(indices.size)
        mat = PETSc.Mat().createAIJWithArrays(
            (size, size), (indptr, indices, self._data), comm=comm
        )
        ksp, pc = cholesky_solver(mat, self.factor_solver)
        if pc.getFactorSolverType() == "mumps":
            pc.setFactorSetUpSolverType()  # creates the factor matrix, to set its controls
            factor, options = pc.getFactorMatrix(), PETSc.Options("lod_")
            for key, value in MUMPS_ICNTL.items():
                if not options.hasName(f"mat_mumps_icntl_{key}"):
                    factor.setMumpsIcntl(key, value)
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

    @property
    def factorization(self) -> str:
        """Package, ordering and (MUMPS) flops of the factorisation, once one has run."""
        _, _, pc = self._petsc
        package = pc.getFactorSolverType()
        if package != "mumps":
            return f"{package}, {self._ordering.upper()} (fine nodes; multipliers last)"
        factor = pc.getFactorMatrix()
        ordering = MUMPS_ORDERINGS.get(factor.getMumpsInfog(7), str(factor.getMumpsInfog(7)))
        return f"mumps, {ordering}, {factor.getMumpsRinfog(3) / 1e6:.0f} Mflop"

    def _type(self, key) -> _PatchType:
        if key not in self._types:
            self._types[key] = _PatchType(self, key)
        return self._types[key]

    def close(self):
        """Destroy the PETSc objects (also done at garbage collection)."""
        self._types.clear()
        for twin in self._twins.values():
            twin.close()
        self._twins.clear()
        if self._petsc is not None:
            mat, ksp, _ = self._petsc
            for obj in (ksp, mat, self._rhs, self._sol, self._rhs1, self._sol1):
                obj.destroy()
            self._petsc = None

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def solve(self, keys, windows: np.ndarray, want_correctors: bool, loads=None):
        """Unmasked S_{A,T} ``(k, s^d, 2^d)`` of k patches and, if wanted, their correctors.

        The correctors Q_T λ_j: ``(k, n_all, 2^d)``. The saddle point problems are solved one
        patch at a time, the products of S_{A,T} once per patch type for all its patches.

        ``loads`` ``(k, n_all)``, optional: a fine load ℓ_T on the patch nodes (a boundary
        load, ``PatchSolver``), one more right-hand side of the same factorisation: R_T in the
        patch's W with a(R_T, w) = ℓ_T(w) for all w in W (zero rows: R_T = 0, no solve). Then
        S_{A,T} and the correctors get one more column, −a(R_T, λ_i) and R_T: the column of a
        "hat" 0 whose corrector is −R_T.
        """
        if self._petsc is None:
            raise RuntimeError("PatchSolver was closed")
        if self.neumann.any() and not self.faces.any():
            faces = [open_faces(tuple(key), self.ell, self.neumann) for key in keys.tolist()]
            if any(f.any() for f in faces):
                return self._split(keys, windows, want_correctors, faces, loads)
        k, nl = len(windows), self.n_local
        extra = loads is not None
        out = np.empty((k, self.s**self.dim, nl + extra))
        q = np.empty((k, self.n_int, nl))  # fine unknowns in factorisation order
        mu = np.empty((k, self.s**self.dim, nl))
        if extra:  # R_T and its multipliers
            r, mu_r = np.zeros((k, self.n_int)), np.zeros((k, self.s**self.dim))
        groups = defaultdict(list)
        for i, key in enumerate(keys.tolist()):
            groups[tuple(key)].append(i)
        # The per-patch dense work is far too small to gain from BLAS threads, and threads
        # would oversubscribe the cores under MPI.
        with blas_threads(1):
            for key, members in groups.items():
                ptype = self._type(key)
                for i in members:
                    self._solve_saddle(ptype, windows[i], q[i], mu[i])
                    if extra and loads[i].any():
                        self._solve_load(ptype, loads[i], r[i], mu_r[i])
                with phase(self.timings, "products", event="patch_products"):
                    out[members, :, :nl] = self._products(
                        ptype, windows[members], q[members], mu[members]
                    )
                    if extra:
                        out[members, :, nl] = self._load_products(
                            ptype, windows[members], loads[members], r[members], mu_r[members]
                        )
        if not want_correctors:
            return out, None
        corr = np.zeros((k, self.n_all, nl + extra))
        corr[:, self.interior, :nl] = q[:, self.q_position]
        if extra:
            corr[:, self.interior, nl] = r[:, self.q_position]
        return out, corr

    def _split(self, keys, windows, want_correctors: bool, faces: list[np.ndarray], loads=None):
        """``solve`` with each patch on the twin of its open faces (itself where none); with
        ``share_twins``, a patch whose faces are an image of a canonical signature under a
        symmetry of the box is moved by it, solved on that twin and its results moved back."""
        cols = self.n_local + (loads is not None)
        out = np.empty((len(windows), self.s**self.dim, cols))
        corr = np.empty((len(windows), self.n_all, cols)) if want_correctors else None
        groups = defaultdict(lambda: defaultdict(list))  # canonical faces -> symmetry -> patches
        for i, f in enumerate(faces):
            g, sig = self._canonical(f)
            groups[sig][g].append(i)
        for sig, by_symmetry in groups.items():
            backend = self if not any(sig) else self._twin(sig)
            if len(by_symmetry) == 1 and 0 in by_symmetry:  # no patch to move
                part = by_symmetry[0]
                p_keys, p_windows = keys[part], windows[part]
                p_loads = None if loads is None else loads[part]
            else:
                part = [i for members in by_symmetry.values() for i in members]
                p_keys, p_windows = np.empty_like(keys[part]), np.empty_like(windows[part])
                p_loads = None if loads is None else np.empty_like(loads[part])
                start = 0
                for g, members in by_symmetry.items():
                    rows = slice(start, start + len(members))
                    start += len(members)
                    if g == 0:
                        p_keys[rows], p_windows[rows] = keys[members], windows[members]
                        if loads is not None:
                            p_loads[rows] = loads[members]
                        continue
                    t = self._symmetry(g)
                    p_keys[rows] = t["key_offset"] + t["key_sign"] * keys[members][:, t["key"]]
                    p_windows[rows] = windows[members][:, t["cells"]]
                    if loads is not None:
                        p_loads[rows] = loads[members][:, t["nodes"]]
            if loads is None:
                p_out, q = backend.solve(p_keys, p_windows, want_correctors)
            else:
                p_out, q = backend.solve(p_keys, p_windows, want_correctors, p_loads)
            start = 0
            for g, members in by_symmetry.items():
                rows = slice(start, start + len(members))
                start += len(members)
                if g == 0:
                    out[members] = p_out[rows]
                    if want_correctors:
                        corr[members] = q[rows]
                    continue
                t = self._symmetry(g)
                back = t["columns_back"][:cols]
                out[members] = p_out[rows][:, t["coarse_back"]][:, :, back]
                if want_correctors:
                    corr[members] = q[rows][:, t["nodes_back"]][:, :, back]
        return out, corr

    @cached_property
    def _symmetries(self) -> list[tuple[tuple[int, ...], tuple[bool, ...]]]:
        """The symmetries (perm, flip) of the box that map the Neumann mask onto itself,
        identity first, then by the number of reflections and of moved axes."""
        d = self.dim
        found = [
            (perm, flip)
            for perm in itertools.permutations(range(d))
            for flip in itertools.product((False, True), repeat=d)
            if np.array_equal(_map_faces(self.neumann, perm, flip), self.neumann)
        ]
        return sorted(found, key=lambda g: (sum(g[1]), sum(p != i for i, p in enumerate(g[0]))))

    def _canonical(self, f: np.ndarray) -> tuple[int, bytes]:
        """(symmetry index, canonical open faces) of a patch with open faces ``f``: the image of
        ``f`` with the largest signature over the symmetries (the first symmetry that reaches
        it, so the identity where ``f`` is canonical itself). Without ``share_twins``, or with
        no open face, the identity."""
        sig = f.tobytes()
        if not self.share_twins or not f.any():
            return 0, sig
        cache = self._canonical_cache
        if sig not in cache:
            images = [_map_faces(f, *g).tobytes() for g in self._symmetries]
            best = max(images)
            cache[sig] = (images.index(best), best)
        return cache[sig]

    def _symmetry(self, g: int) -> dict:
        """Index arrays of the symmetry ``g`` (made once): gathers of the cells, the fine nodes
        and the key into the moved patch, and the gathers back of its coarse nodes (rows of
        S_{A,T}), fine nodes (correctors) and T's local hats (columns; the load column stays)."""
        cache = self._symmetry_cache
        if g not in cache:
            perm, flip = self._symmetries[g]
            d, m = self.dim, self.m
            nodes = _symmetry_gather(m + 1, d, perm, flip)
            hats = np.argsort(_symmetry_gather(2, d, perm, flip))
            key = np.ravel(
                [[2 * p + 1, 2 * p] if r else [2 * p, 2 * p + 1] for p, r in zip(perm, flip)]
            )
            reflected = np.repeat(np.asarray(flip), 2)
            cache[g] = dict(
                cells=_symmetry_gather(m, d, perm, flip),
                nodes=nodes,
                key=key,
                key_offset=np.where(reflected, 2 * self.ell + 1, 0),
                key_sign=np.where(reflected, -1, 1),
                coarse_back=np.argsort(_symmetry_gather(self.s, d, perm, flip)),
                nodes_back=np.argsort(nodes),
                columns_back=np.r_[hats, np.arange(self.n_local, self.n_local + 1)],
            )
        return cache[g]

    def _twin(self, sig: bytes) -> PetscBackend:
        if sig not in self._twins:
            faces = np.frombuffer(sig, dtype=bool).reshape(self.dim, 2)
            twin = PetscBackend(
                self.n_sub, self.ell, self.factor_solver, self.dim, self.neumann, faces
            )
            twin.timings = self.timings  # one record of the phases
            self._twins[sig] = twin
        return self._twins[sig]

    def _products(self, ptype: _PatchType, a: np.ndarray, q: np.ndarray, mu: np.ndarray):
        """S_{A,T} ``(g, s^d, 2^d)`` of g patches of one type from R_T(A), Q and μ."""
        g, nl = len(a), self.n_local
        a_t = np.ascontiguousarray(a.T)  # (cells, g): one sparse product for all g patches
        out = (ptype.elem_weights @ a_t).T.reshape(g, -1, nl) + ptype.flux_mu @ mu
        k_r = ptype.boundary_matrix
        values = np.ascontiguousarray((ptype.boundary_stiffness @ a_t).T)
        flux = np.empty((k_r.shape[0], g, nl))  # K_r(A) Q of every patch
        for i in range(g):
            k_r.data = values[i]
            flux[:, i] = k_r @ q[i]
        flux = ptype.boundary_hats @ flux.reshape(-1, g * nl)  # P_r^T K_r(A) Q
        out -= flux.reshape(-1, g, nl).transpose(1, 0, 2)
        return out

    def _load_products(self, ptype: _PatchType, a, loads, r, mu_r) -> np.ndarray:
        """−a(R_T, λ_i) ``(g, s^d)`` of g patches of one type from R_T(A), ℓ_T, R_T and its μ.

        As in ``_products``: on the free rows K R = ℓ − C^T μ, so that
        P^T K R = P_int^T diag(free) ℓ − (C P_int)^T μ + P_r^T K_r(A) R.
        """
        g = len(a)
        load = loads[:, self.interior] * ptype.free  # (g, interior nodes)
        out = -load @ self.p_int_t.T + mu_r @ ptype.flux_mu.T
        k_r = ptype.boundary_matrix
        values = np.ascontiguousarray((ptype.boundary_stiffness @ np.ascontiguousarray(a.T)).T)
        flux = np.empty((k_r.shape[0], g))
        for i in range(g):
            k_r.data = values[i]
            flux[:, i] = k_r @ r[i]
        return out - (ptype.boundary_hats @ flux).T

    def _solve_load(self, ptype: _PatchType, load: np.ndarray, r: np.ndarray, mu_r: np.ndarray):
        """R_T (fine unknowns in factorisation order) and its multipliers for the fine load
        ``load`` on the patch nodes, with the factorisation ``_solve_saddle`` just made."""
        _, _, pc = self._petsc
        with phase(self.timings, "solves", event="patch_solves"):
            self._rhs1_array[:] = 0.0
            self._rhs1_array[self.q_position] = load[self.interior] * ptype.free
            self._rhs1.stateIncrease()
            pc.getFactorMatrix().solve(self._rhs1, self._sol1)
        sol = self._sol1.getArray(readonly=True)
        r[:] = sol[: self.n_int]
        mu_r[:] = sol[self.n_int :]

    def _solve_saddle(self, ptype: _PatchType, a: np.ndarray, q: np.ndarray, mu: np.ndarray):
        """Q (fine unknowns in factorisation order) and μ (all multipliers) of one patch into
        ``q`` and ``mu``."""
        mat, _, pc = self._petsc
        tm = self.timings
        ni = self.n_int
        with phase(tm, "assembly", event="patch_assembly"):
            np.add(self.w_aug @ a, ptype.matrix_const, out=self._data)
            self._data[ptype.matrix_dropped] = ptype.dropped_values
            mat.stateIncrease()  # PETSc shares self._data: mark the values changed
            loads = (self.w_load_nodes @ a).reshape(-1, self.n_local)
            self._rhs_array[self.load_rows] = loads * ptype.free_load
        with phase(tm, "factorization", event="patch_factorization"):
            pc.setUp()  # numeric factorisation only: the pattern never changes
        failed = pc.getFailedReason()
        if failed:
            raise RuntimeError(
                f"the {pc.getFactorSolverType()} factorisation of a patch matrix failed "
                f"(PCFailedReason {failed}); try another package with "
                "-lod_pc_factor_mat_solver_type"
            )
        with phase(tm, "solves", event="patch_solves"):
            pc.getFactorMatrix().matSolve(self._rhs, self._sol)
        q[:] = self._sol_array[:ni]
        mu[:] = self._sol_array[ni:]
