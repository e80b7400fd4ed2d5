"""PG-LOD end to end: local matrices on every rank, S_A, the coarse solve (paper 000, Sec. 3.4).

``pglod_solve`` computes the element correctors and local matrices S_{A,T} (eq. (3.9)) for this
rank's block of elements, assembles S_A (eq. (3.10)) on DOLFINx's coarse dofs, the load
F_i = (f, λ_i) (``loads.coarse_load``) and solves S_A U = F (eq. (3.7)); optionally the fine
function (1 − Q^ℓ) u_H.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from lod_fenicsx.assembly import assemble_global
from lod_fenicsx.boundary import (
    check_data,
    dirichlet_values,
    flux_load,
    neumann_faces,
    neumann_mask,
)
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.corrector import PatchSolver, patch_fine_nodes
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.interpolation import prolongation
from lod_fenicsx.linalg import coarse_solve
from lod_fenicsx.loads import coarse_load
from lod_fenicsx.patch import element_node_positions, padded_nodes_in_domain
from lod_fenicsx.timing import phase


def rank_elements(comm: MPI.Comm, n_coarse: int, dim: int = 2) -> np.ndarray:
    """This rank's contiguous block of the N_H^d coarse elements (rows or planes of patches
    balance the work)."""
    bounds = np.linspace(0, n_coarse**dim, comm.size + 1).round().astype(int)
    return np.arange(bounds[comm.rank], bounds[comm.rank + 1])


def distributed_local_matrices(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    root: int | None = None,
    patch_solver: PatchSolver | None = None,
    neumann=None,
):
    """Local matrices of all elements, computed in contiguous blocks of elements per rank.

    Returns ``(mine, local_mine, all_local)``: this rank's elements and their padded S_{A,T},
    and the ``(N^d, (2ℓ+2)^d, 2^d)`` array of all elements on ``root`` (all ranks if None;
    None on the other ranks). d is the coefficient's number of axes; ``neumann`` the Neumann
    faces (``lod_fenicsx.boundary``) of a solver made here.
    """
    dim = np.ndim(coefficient)
    ps = patch_solver or PatchSolver(n_coarse, n_sub, ell, dim=dim, neumann=neumann)
    mine = rank_elements(comm, n_coarse, dim)
    local = ps.local_matrices(coefficient, mine)
    parts = comm.allgather(local) if root is None else comm.gather(local, root=root)
    every = np.concatenate(parts) if parts is not None else None
    return mine, local, every


@dataclass
class PGLODResult:
    """Output of ``pglod_solve``: coarse solution ``[iy, ix]`` (``[iz, iy, ix]`` in 3-D, on all
    ranks) and what produced it."""

    u_coarse: np.ndarray
    matrix: PETSc.Mat
    load: PETSc.Vec
    solution: PETSc.Vec
    discretization: Discretization
    elements: np.ndarray
    local_matrices: np.ndarray
    timings: dict = field(default_factory=dict)
    patch_timings: dict = field(default_factory=dict)
    u_corrected: np.ndarray | None = None
    neumann: tuple[str, ...] = ()  # the Neumann faces; all others Dirichlet
    # With boundary data: a((1 − Q^ℓ) u_H, λ_i) − (f, λ_i) − (ψ, λ_i) on every coarse node, the
    # flux ∫ A∇u·ν λ_i through ∂D at the Dirichlet nodes (about 0 elsewhere).
    reaction: np.ndarray | None = None

    def destroy(self):
        """Destroy the PETSc matrix and vectors (the arrays stay)."""
        for obj in (self.matrix, self.load, self.solution):
            if obj is not None:
                obj.destroy()
        self.matrix = self.load = self.solution = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


def apply_local(
    comm: MPI.Comm, local: np.ndarray, elements: np.ndarray, values: np.ndarray, ell: int
) -> np.ndarray:
    """Σ_T S_{A,T} (values at T's nodes) on all coarse nodes of the closed domain, summed over
    ``comm``: S_A times a nodal array, with the rows and columns of the boundary nodes that
    ``full_local_matrices`` keeps. ``values`` and the result have shape ``(N + 1,) * d``."""
    dim, n_coarse = values.ndim, values.shape[0] - 1
    nodes = padded_nodes_in_domain(n_coarse, ell, dim)[elements]  # (k, s^d), -1 outside D
    t_values = values.ravel()[nodes[:, element_node_positions(ell, dim)]]  # (k, 2^d)
    contribution = np.einsum("kij,kj->ki", local, t_values)
    total = np.zeros(values.size)
    inside = nodes >= 0
    np.add.at(total, nodes[inside], contribution[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    return total.reshape(values.shape)


def corrected_solution(
    comm: MPI.Comm,
    correctors: np.ndarray,
    elements: np.ndarray,
    u_coarse: np.ndarray,
    n_sub: int,
    ell: int,
) -> np.ndarray:
    """(1 − Q^ℓ) u_H = P u_H − Σ_T Q_T(u_H|_T) on the fine nodes (structured, all ranks).

    ``correctors`` are this rank's Q_T λ_j (``PatchSolver.correctors``) for ``elements``;
    the sum over T is completed across ``comm``. This is the fine-scale function whose
    energy error the LOD theory bounds by O(H) (paper 000, Sec. 3.3).
    """
    dim, n_coarse = u_coarse.ndim, u_coarse.shape[0] - 1
    n_fine = n_coarse * n_sub
    nodes_shape = (n_coarse + 1,) * dim
    first = np.ravel_multi_index(np.unravel_index(elements, (n_coarse,) * dim), nodes_shape)
    corners = np.ravel_multi_index(np.indices((2,) * dim).reshape(dim, -1), nodes_shape)
    t_nodes = np.asarray(first, dtype=np.int64)[:, None] + corners[None, :]
    values = np.einsum("tfj,tj->tf", correctors, u_coarse.ravel()[t_nodes])
    fine = (
        np.stack([patch_fine_nodes(n_coarse, n_sub, ell, t, dim) for t in elements])
        if len(elements)
        else None
    )
    total = np.zeros((n_fine + 1) ** dim)
    if fine is not None:
        inside = fine >= 0
        np.add.at(total, fine[inside], values[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    total = prolongation(n_coarse, n_sub, dim) @ u_coarse.ravel() - total
    return total.reshape((n_fine + 1,) * dim)


def pglod_solve(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    rhs="one",
    disc: Discretization | None = None,
    corrected: bool = False,
    patch_solver: PatchSolver | None = None,
    neumann=None,
    dirichlet=None,
    flux=None,
) -> PGLODResult:
    """PG-LOD approximation u_H, eq. (3.7): correctors, S_A (3.10), F_i = (f, λ_i), LU solve.

    Every rank passes the whole coefficient, ``[iy, ix]`` in 2-D or ``[iz, iy, ix]`` in 3-D
    (d is its number of axes); patches are split over the ranks. With ``corrected`` the fine
    function (1 − Q^ℓ) u_H is also returned (``u_corrected``). Pass a ``patch_solver`` to reuse
    its set-up over many coefficients (built with the same ``neumann`` faces).

    ``neumann`` names the faces with A∇u·ν = ψ, e.g. ``("y0", "y1")``; the others have u = g
    (``lod_fenicsx.boundary``; default: all Dirichlet). The data, by default g = 0 and ψ = 0:
    ``dirichlet`` a callable g(x, y[, z]) or ``{face: constant or callable}`` on Dirichlet
    faces, ``flux`` ``{face: constant or callable ψ}`` on Neumann faces.

    Non-zero data by a corrected lifting: u_H = u_0 + g̃ with g̃ ∈ V_H the nodal interpolant of
    g on the Dirichlet nodes (0 at the free ones) and u_0 ∈ V_H (0 on the Dirichlet faces) from
    a((1 − Q^ℓ) u_0, λ_i) = (f, λ_i) + (ψ, λ_i)_{Γ_N} − a((1 − Q^ℓ) g̃, λ_i) for the free
    nodes i: the columns of S_A of the Dirichlet nodes, with the correctors of their hats,
    carry g̃ (``PatchSolver.full_local_matrices``). The corrected function (1 − Q^ℓ) u_H equals
    g̃ on the Dirichlet faces (Q vanishes there).
    """
    dim = np.ndim(coefficient) if np.ndim(coefficient) in (2, 3) else 2
    mask = neumann_mask(neumann, dim)
    check_data(mask, dirichlet, flux)
    data = dirichlet is not None or flux is not None
    if patch_solver is not None and not np.array_equal(patch_solver.neumann, mask):
        raise ValueError(
            f"neumann: the patch_solver was built for the Neumann faces "
            f"{neumann_faces(patch_solver.neumann)}, this solve asks for {neumann_faces(mask)}"
        )
    coefficient = validate_coefficient(coefficient, n_coarse, n_sub, dim=dim)
    timings = {}
    with phase(timings, "meshes"):
        disc = disc or Discretization(comm, n_coarse, n_sub, fine=False, dim=dim)
    if disc.dim != dim:
        raise ValueError(f"the discretization is {disc.dim}-D, the coefficient {dim}-D")
    with phase(timings, "local_matrices"):
        ps = patch_solver or PatchSolver(n_coarse, n_sub, ell, dim=dim, neumann=mask)
        ps.reset_timings()
        mine = rank_elements(comm, n_coarse, dim)
        if data:  # the full matrices carry the lifting and the reactions
            if corrected:
                full, correctors = ps.local_matrices_and_correctors(coefficient, mine, full=True)
            else:
                full = ps.full_local_matrices(coefficient, mine)
            local = ps.masked(full, mine)
        elif corrected:
            local, correctors = ps.local_matrices_and_correctors(coefficient, mine)
        else:
            local = ps.local_matrices(coefficient, mine)
        comm.Barrier()
    with phase(timings, "assembly", event="global_assembly"):
        matrix = assemble_global(
            comm, local, mine, n_coarse, ell, layout=disc.coarse_layout, neumann=mask
        )
        load = coarse_load(disc, rhs, neumann=mask)
        if data:
            g = dirichlet_values(n_coarse, mask, dirichlet)
            psi = flux_load(n_coarse, mask, flux)
            extra = psi - apply_local(comm, full, mine, g, ell)
            extra.ravel()[disc.coarse_layout.dirichlet_nodes(mask)] = 0.0
            lo, hi = load.getOwnershipRange()
            load.getArray()[: hi - lo] += disc.coarse_layout.from_structured(extra)
            load.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    with phase(timings, "coarse_solve"):
        sol = coarse_solve(matrix, load)
    lo, hi = sol.getOwnershipRange()
    u = disc.coarse_layout.to_structured(comm, sol.getArray()[: hi - lo])
    if data:
        u = u + g  # the solve gives u_0 = 0 on the Dirichlet faces
    result = PGLODResult(u, matrix, load, sol, disc, mine, local, timings, dict(ps.timings))
    result.neumann = neumann_faces(mask)
    if data:
        f_all = coarse_load(disc, rhs, neumann=mask, keep_dirichlet=True)
        lo, hi = f_all.getOwnershipRange()
        f_all_structured = disc.coarse_layout.to_structured(comm, f_all.getArray()[: hi - lo])
        f_all.destroy()
        result.reaction = apply_local(comm, full, mine, u, ell) - f_all_structured - psi
    if corrected:
        with phase(timings, "corrected_solution"):
            result.u_corrected = corrected_solution(comm, correctors, mine, u, n_sub, ell)
    if patch_solver is None:
        ps.close()
    return result
