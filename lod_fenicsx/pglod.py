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
from lod_fenicsx.boundary import neumann_faces, neumann_mask
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.corrector import PatchSolver, patch_fine_nodes
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.interpolation import prolongation
from lod_fenicsx.linalg import coarse_solve
from lod_fenicsx.loads import coarse_load
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
) -> PGLODResult:
    """PG-LOD approximation u_H, eq. (3.7): correctors, S_A (3.10), F_i = (f, λ_i), LU solve.

    Every rank passes the whole coefficient, ``[iy, ix]`` in 2-D or ``[iz, iy, ix]`` in 3-D
    (d is its number of axes); patches are split over the ranks. With ``corrected`` the fine
    function (1 − Q^ℓ) u_H is also returned (``u_corrected``). Pass a ``patch_solver`` to reuse
    its set-up over many coefficients (built with the same ``neumann`` faces).

    ``neumann`` names the faces with A∇u·ν = 0, e.g. ``("y0", "y1")``; the others keep u = 0
    (``lod_fenicsx.boundary``; default: all Dirichlet).
    """
    dim = np.ndim(coefficient) if np.ndim(coefficient) in (2, 3) else 2
    mask = neumann_mask(neumann, dim)
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
        if corrected:
            local, correctors = ps.local_matrices_and_correctors(coefficient, mine)
        else:
            local = ps.local_matrices(coefficient, mine)
        comm.Barrier()
    with phase(timings, "assembly", event="global_assembly"):
        matrix = assemble_global(
            comm, local, mine, n_coarse, ell, layout=disc.coarse_layout, neumann=mask
        )
        load = coarse_load(disc, rhs, neumann=mask)
    with phase(timings, "coarse_solve"):
        sol = coarse_solve(matrix, load)
    lo, hi = sol.getOwnershipRange()
    u = disc.coarse_layout.to_structured(comm, sol.getArray()[: hi - lo])
    result = PGLODResult(u, matrix, load, sol, disc, mine, local, timings, dict(ps.timings))
    result.neumann = neumann_faces(mask)
    if corrected:
        with phase(timings, "corrected_solution"):
            result.u_corrected = corrected_solution(comm, correctors, mine, u, n_sub, ell)
    if patch_solver is None:
        ps.close()
    return result
