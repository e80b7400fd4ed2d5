"""Global PG-LOD matrix S_A = Σ_T π_T S_{A,T} φ_T^T, eq. (3.10), as a PETSc MPIAIJ matrix.

Layout: the rows and columns are DOLFINx's global dofs of the coarse Q1 space on the unit
square (quadrilaterals) or cube (hexahedra) of N cells per side (PETSc ownership = DOLFINx's
owned dofs). ``DofLayout.node_to_dof`` maps the structured node ``iy * (N+1) + ix`` (3-D:
``(iz * (N+1) + iy) * (N+1) + ix``) to that dof and ``dof_to_node`` back. S_A lives on the
interior nodes; a Dirichlet node's row and column are empty except for ``dirichlet_diagonal``
on the diagonal (1 by default, so that S_A U = F with F = 0 there is nonsingular and gives
U = 0 on ∂D).

The function takes any padded local matrices (PG-LOD or a network surrogate, eq. (4.2)).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from lod_fenicsx.discretization import DofLayout, dof_layout
from lod_fenicsx.patch import element_node_positions, padded_node_indices
from plumbing.checks import (
    check_indices,
    check_instance,
    check_real,
    check_real_array,
    check_size,
)


_LAYOUTS: dict[tuple[int, int, int, int], DofLayout] = {}


def coarse_layout(comm: MPI.Comm, n_coarse: int, dim: int = 2) -> DofLayout:
    """The DofLayout of the coarse Q1 space on an N^d DOLFINx mesh on ``comm``.

    Built once per (communicator, N, d) and reused, so that repeated ``assemble_global`` calls
    share one layout. To combine S_A with vectors of your own DOLFINx space, pass that
    space's ``dof_layout`` instead.
    """
    from dolfinx import fem

    from lod_fenicsx.discretization import unit_mesh

    key = (comm.py2f(), comm.size, int(n_coarse), int(dim))
    if key not in _LAYOUTS:
        space = fem.functionspace(unit_mesh(comm, n_coarse, dim), ("Lagrange", 1))
        _LAYOUTS[key] = dof_layout(space, n_coarse)
    return _LAYOUTS[key]


def local_matrix_dim(local_matrices: np.ndarray) -> int:
    """d of padded local matrices ``(k, (2ℓ+2)^d, 2^d)``: 2 (4 columns) or 3 (8 columns)."""
    columns = np.shape(local_matrices)[-1] if np.ndim(local_matrices) == 3 else None
    if columns not in (4, 8):
        raise ValueError(
            f"local_matrices has shape {np.shape(local_matrices)}, expected (k, (2ℓ+2)^d, 2^d) "
            "with 2^d = 4 (2-D) or 8 (3-D) columns"
        )
    return {4: 2, 8: 3}[columns]


def local_to_global_coo(
    local_matrices: np.ndarray, elements: np.ndarray, n_coarse: int, ell: int, neumann=None
):
    """Structured COO triplets (rows, cols, values) of Σ_T π_T S_{A,T} φ_T^T over the given T.

    In 2-D (4 columns) or 3-D (8 columns, the dimension follows from the local matrices' shape).
    Node indices are in C order of the axes (``iy * (N+1) + ix`` in 2-D); entries of nodes not
    interior to D are dropped (nodes on the ``neumann`` faces are kept, ``lod_fenicsx.boundary``).
    """
    local_matrices = np.asarray(local_matrices, dtype=float)
    elements = np.asarray(elements, dtype=np.int64).reshape(-1)
    dim = local_matrix_dim(local_matrices) if local_matrices.ndim == 3 else 2
    rows_per_element = (2 * ell + 2) ** dim
    if local_matrices.shape != (elements.size, rows_per_element, 2**dim):
        raise ValueError(
            f"local_matrices has shape {local_matrices.shape}, expected ({elements.size}, "
            f"{rows_per_element}, {2**dim}) for {elements.size} elements and ell={ell}"
        )
    nodes = padded_node_indices(n_coarse, ell, dim, neumann)[elements]  # (k, (2ℓ+2)^d)
    cols = nodes[:, element_node_positions(ell, dim)]  # (k, 2^d)
    rows = np.broadcast_to(nodes[:, :, None], local_matrices.shape)
    cols = np.broadcast_to(cols[:, None, :], local_matrices.shape)
    keep = (rows >= 0) & (cols >= 0)
    return rows[keep], cols[keep], local_matrices[keep]


def assemble_global(
    comm: MPI.Comm,
    local_matrices: np.ndarray,
    elements: np.ndarray,
    n_coarse: int,
    ell: int,
    layout: DofLayout | None = None,
    dirichlet_diagonal: float = 1.0,
    neumann=None,
) -> PETSc.Mat:
    """Global S_A from padded local matrices, eq. (3.10), as a PETSc MPIAIJ matrix (collective).

    Parameters
    ----------
    comm : MPI.Comm
        The communicator of the result.
    local_matrices : numpy.ndarray
        ``(k, (2ℓ+2)**d, 2**d)`` padded S_{A,T} computed on this rank (d = 2, 3 from the number
        of columns; k may be 0).
    elements : numpy.ndarray
        The k coarse elements ``t = ty * N + tx`` they belong to (any subset per rank;
        contributions of all ranks are summed).
    n_coarse, ell : int
        N_H and ℓ.
    layout : DofLayout, optional
        Coarse dof layout (default: that of a new DOLFINx coarse mesh on ``comm``).
    dirichlet_diagonal : float
        Value put on the diagonal of Dirichlet nodes' rows.
    neumann : sequence of str, optional
        Faces of D where the nodes are unknowns (``lod_fenicsx.boundary``; None: all faces
        Dirichlet). The local matrices must have been computed with the same faces.

    Returns
    -------
    PETSc.Mat of global size ``(N+1)**d`` on DOLFINx's coarse dof numbering.
    """
    check_instance("comm", comm, MPI.Comm)
    n_coarse, ell = check_size("n_coarse", n_coarse), check_size("ell", ell, 0)
    local_matrices = check_real_array("local_matrices", local_matrices, ndim=3)
    dim = local_matrix_dim(local_matrices)
    elements = check_indices("elements", elements, n_coarse**dim)
    dirichlet_diagonal = check_real("dirichlet_diagonal", dirichlet_diagonal)
    check_instance("layout", layout, (DofLayout, type(None)), "DofLayout or None")
    layout = coarse_layout(comm, n_coarse, dim) if layout is None else layout
    if layout.dim != dim or layout.n != n_coarse:
        raise ValueError(
            f"the layout is for {layout.n} cells per side in {layout.dim}-D, the local matrices "
            f"for N_H = {n_coarse} in {dim}-D"
        )
    rows, cols, vals = local_to_global_coo(local_matrices, elements, n_coarse, ell, neumann)
    first, last = layout.local_range
    size = (n_coarse + 1) ** dim
    band = min((2 * ell + 3) ** dim, size)  # row i couples to nodes within ℓ+1 elements
    mat = PETSc.Mat().createAIJ(
        ((last - first, size), (last - first, size)), nnz=(band, band), comm=comm
    )
    mat.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
    g_rows = layout.node_to_dof[rows].astype(PETSc.IntType)
    g_cols = layout.node_to_dof[cols].astype(PETSc.IntType)
    # Sort by row so that each row's entries go in one call; off-process rows are stashed.
    order = np.lexsort((g_cols, g_rows))
    g_rows, g_cols, vals = g_rows[order], g_cols[order], vals[order]
    starts = np.flatnonzero(np.r_[True, g_rows[1:] != g_rows[:-1]])
    ends = np.r_[starts[1:], g_rows.size]
    for a, b in zip(starts, ends):
        mat.setValues(g_rows[a : a + 1], g_cols[a:b], vals[a:b], addv=PETSc.InsertMode.ADD_VALUES)
    boundary = layout.node_to_dof[layout.dirichlet_nodes(neumann)]
    own = boundary[(boundary >= first) & (boundary < last)].astype(PETSc.IntType)
    for d in own:
        mat.setValue(d, d, dirichlet_diagonal, addv=PETSc.InsertMode.ADD_VALUES)
    mat.assemble()
    return mat


def gather_coo(mat: PETSc.Mat, root: int | None = 0):
    """A PETSc matrix as COO triplets (rows, cols, values) in its global numbering.

    Gathered on ``root`` (None: on all ranks); other ranks get empty arrays.
    """
    indptr, indices, values = mat.getValuesCSR()
    first, _ = mat.getOwnershipRange()
    rows = np.repeat(np.arange(first, first + indptr.size - 1), np.diff(indptr))
    comm = mat.getComm().tompi4py()
    parts = (
        comm.allgather((rows, indices, values))
        if root is None
        else comm.gather((rows, indices, values), root=root)
    )
    if parts is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def to_structured_coo(mat: PETSc.Mat, layout: DofLayout, root: int | None = 0):
    """S_A as structured COO triplets (rows, cols, values), node = iy * (N+1) + ix (C order).

    Gathered on ``root`` (None: on all ranks); other ranks get empty arrays.
    """
    rows, cols, vals = gather_coo(mat, root)
    if rows.size == 0:
        return rows, cols, vals
    return layout.dof_to_node[rows], layout.dof_to_node[cols], vals
