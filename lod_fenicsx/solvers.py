"""Coarse PG-LOD solve S_A U = F, fine reference solve, loads (paper 000, eq. (3.7) and Sec. 3.4).

* Load: F_i = (M_H f_H)_i with f_H the **nodal interpolant** of f in the coarse Q1 space
  (all nodes, boundary included); F vanishes at Dirichlet nodes. For ``rhs="one"`` this is
  exactly (f, λ_i).
* Coarse solve: S_A is non-symmetric (Petrov–Galerkin) and small (one unknown per coarse
  node), so the default is a parallel sparse LU (MUMPS): exact, robust for non-symmetric
  matrices and cheaper than any Krylov set-up at this size. Tune it with ``-lod_coarse_*``.
* Fine reference: standard Q1 FEM on the fine mesh with the same f, solved by CG
  preconditioned with algebraic multigrid (hypre BoomerAMG, GAMG if hypre is missing);
  tune with ``-lod_fine_*``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from lod_fenicsx.assembly import assemble_global
from lod_fenicsx.coefficient import coefficient_function, validate_coefficient
from lod_fenicsx.corrector import PatchSolver, patch_fine_nodes
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.interpolation import prolongation

RHS = {
    "one": lambda x, y: np.ones_like(x),  # paper 000, experiment 1
    "sine": lambda x, y: np.sin(np.pi * x) * np.sin(np.pi * y),
    "x": lambda x, y: x.copy(),
    "x1_right_half": lambda x, y: np.where(x >= 0.5, x, 0.0),  # experiment 2
    "cos2pi_x1": lambda x, y: np.cos(2 * np.pi * x),  # experiment 3
}


def rhs_function(rhs):
    """A right-hand side f(x, y) from its name (one of ``RHS``) or a callable."""
    if callable(rhs):
        return rhs
    if rhs not in RHS:
        raise ValueError(f"unknown right-hand side {rhs!r}; choose one of {sorted(RHS)} or pass f(x, y)")
    return RHS[rhs]


def _q1_load(space, f, layout) -> PETSc.Vec:
    """(M f_h)_i with f_h the nodal interpolant of f, zero at Dirichlet nodes."""
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import assemble_vector

    f_h = fem.Function(space)
    f_h.interpolate(lambda x: f(x[0], x[1]))
    vec = assemble_vector(fem.form(f_h * ufl.TestFunction(space) * ufl.dx))
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    boundary = layout.node_to_dof[layout.boundary_nodes]
    first, last = layout.local_range
    own = boundary[(boundary >= first) & (boundary < last)]
    vec.setValues(own.astype(PETSc.IntType), np.zeros(own.size))
    vec.assemble()
    return vec


def coarse_load(disc: Discretization, rhs="one") -> PETSc.Vec:
    """Coarse load vector F = M_H f_H on DOLFINx's coarse dofs (Dirichlet entries 0)."""
    return _q1_load(disc.coarse_space, rhs_function(rhs), disc.coarse_layout)


def coarse_solve(matrix: PETSc.Mat, load: PETSc.Vec, prefix: str = "lod_coarse_") -> PETSc.Vec:
    """Solve the non-symmetric PG-LOD system S_A U = F (default: MUMPS LU, options ``prefix``)."""
    ksp = PETSc.KSP().create(matrix.getComm())
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(matrix)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    pc.setFactorSolverType("mumps")
    ksp.setFromOptions()
    sol = matrix.createVecRight()
    ksp.solve(load, sol)
    reason = ksp.getConvergedReason()
    ksp.destroy()
    if reason < 0:
        raise RuntimeError(f"coarse PG-LOD solve failed (KSP reason {reason})")
    return sol


def fine_solve(disc: Discretization, coefficient: np.ndarray, rhs="one", rtol: float = 1e-10):
    """Fine Q1 reference solution of -div(A ∇u) = f, u = 0 on ∂D: CG + AMG.

    Returns the DOLFINx function and its nodal values as an ``[iy, ix]`` array of shape
    ``(N n + 1, N n + 1)`` gathered on all ranks.
    """
    import ufl
    from dolfinx import fem
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc

    f = rhs_function(rhs)
    space = disc.fine_space
    a_func = coefficient_function(disc, coefficient)
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    f_h = fem.Function(space)
    f_h.interpolate(lambda x: f(x[0], x[1]))
    a_form = fem.form(a_func * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    l_form = fem.form(f_h * v * ufl.dx)
    boundary = fem.locate_dofs_geometrical(
        space, lambda x: np.isclose(x[0], 0) | np.isclose(x[0], 1) | np.isclose(x[1], 0) | np.isclose(x[1], 1)
    )
    bc = fem.dirichletbc(PETSc.ScalarType(0), boundary, space)
    mat = assemble_matrix(a_form, bcs=[bc])
    mat.assemble()
    vec = assemble_vector(l_form)
    apply_lifting(vec, [a_form], bcs=[[bc]])
    vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    set_bc(vec, [bc])
    ksp = cg_amg_solver(mat, "lod_fine_", rtol=rtol)
    u_h = fem.Function(space, name="u_fine")
    ksp.solve(vec, u_h.x.petsc_vec)
    reason = ksp.getConvergedReason()
    ksp.destroy(), mat.destroy(), vec.destroy()
    if reason < 0:
        raise RuntimeError(f"fine reference solve did not converge (KSP reason {reason})")
    u_h.x.scatter_forward()
    owned = u_h.x.array[: disc.fine_layout.local_nodes.size]
    return u_h, disc.fine_layout.to_structured(disc.comm, owned)


def cg_amg_solver(matrix: PETSc.Mat, prefix: str, rtol: float = 1e-10, atol: float = 1e-50,
                  max_it: int = 10000) -> PETSc.KSP:
    """CG preconditioned by algebraic multigrid (BoomerAMG, GAMG without hypre) for an SPD matrix.

    Options prefix ``prefix`` (e.g. ``-lod_fine_ksp_rtol``); the caller destroys the KSP.
    """
    ksp = PETSc.KSP().create(matrix.getComm())
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(matrix)
    ksp.setType("cg")
    ksp.setTolerances(rtol=rtol, atol=atol, max_it=max_it)
    pc = ksp.getPC()
    if _has_pc("hypre"):
        pc.setType("hypre")
        pc.setHYPREType("boomeramg")
    else:
        pc.setType("gamg")
    ksp.setFromOptions()
    return ksp


def _has_pc(name: str) -> bool:
    pc = PETSc.PC().create(PETSc.COMM_SELF)
    try:
        pc.setType(name)
        return True
    except PETSc.Error:
        return False
    finally:
        pc.destroy()


def rank_elements(comm: MPI.Comm, n_coarse: int) -> np.ndarray:
    """This rank's contiguous block of coarse elements (rows of patches balance the work)."""
    bounds = np.linspace(0, n_coarse**2, comm.size + 1).round().astype(int)
    return np.arange(bounds[comm.rank], bounds[comm.rank + 1])


def distributed_local_matrices(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    root: int | None = None,
    patch_solver: PatchSolver | None = None,
):
    """Local matrices of all elements, computed in contiguous blocks of elements per rank.

    Returns ``(mine, local_mine, all_local)``: this rank's elements and their padded S_{A,T},
    and the ``(N^2, (2ℓ+2)^2, 4)`` array of all elements on ``root`` (all ranks if None;
    None on the other ranks).
    """
    ps = patch_solver or PatchSolver(n_coarse, n_sub, ell)
    mine = rank_elements(comm, n_coarse)
    local = ps.local_matrices(coefficient, mine)
    parts = comm.allgather(local) if root is None else comm.gather(local, root=root)
    every = np.concatenate(parts) if parts is not None else None
    return mine, local, every


@dataclass
class PGLODResult:
    """Output of ``pglod_solve``: coarse solution ``[iy, ix]`` (all ranks) and what produced it."""

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


def corrected_solution(
    comm: MPI.Comm,
    correctors: np.ndarray,
    elements: np.ndarray,
    u_coarse: np.ndarray,
    n_sub: int,
    ell: int,
) -> np.ndarray:
    """(1 − Q^ℓ) u_H = P u_H − Σ_T Q_T(u_H|_T) on the fine nodes, ``[iy, ix]`` on all ranks.

    ``correctors`` are this rank's Q_T λ_j (``PatchSolver.correctors``) for ``elements``;
    the sum over T is completed across ``comm``. This is the fine-scale function whose
    energy error the LOD theory bounds by O(H) (paper 000, Sec. 3.3).
    """
    n_coarse = u_coarse.shape[0] - 1
    n_fine = n_coarse * n_sub
    ty, tx = np.divmod(np.asarray(elements), n_coarse)
    corner = ty * (n_coarse + 1) + tx
    t_nodes = corner[:, None] + np.array([0, 1, n_coarse + 1, n_coarse + 2])[None, :]
    values = np.einsum("tfj,tj->tf", correctors, u_coarse.ravel()[t_nodes])
    fine = np.stack([patch_fine_nodes(n_coarse, n_sub, ell, t) for t in elements]) if len(elements) else None
    total = np.zeros((n_fine + 1) ** 2)
    if fine is not None:
        inside = fine >= 0
        np.add.at(total, fine[inside], values[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    total = prolongation(n_coarse, n_sub) @ u_coarse.ravel() - total
    return total.reshape(n_fine + 1, n_fine + 1)


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
) -> PGLODResult:
    """PG-LOD approximation u_H, eq. (3.7): correctors, S_A (3.10), F = M_H f_H, LU solve.

    Every rank passes the whole coefficient; patches are split over the ranks. With
    ``corrected`` the fine function (1 − Q^ℓ) u_H is also returned (``u_corrected``).
    Pass a ``patch_solver`` to reuse its set-up over many coefficients.
    """
    coefficient = validate_coefficient(coefficient, n_coarse, n_sub)
    timings = {}
    t0 = time.perf_counter()
    disc = disc or Discretization(comm, n_coarse, n_sub, fine=False)
    timings["meshes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ps = patch_solver or PatchSolver(n_coarse, n_sub, ell)
    ps.reset_timings()
    mine = rank_elements(comm, n_coarse)
    if corrected:
        local, correctors = ps.local_matrices_and_correctors(coefficient, mine)
    else:
        local = ps.local_matrices(coefficient, mine)
    comm.Barrier()
    timings["local_matrices"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    matrix = assemble_global(comm, local, mine, n_coarse, ell, layout=disc.coarse_layout)
    load = coarse_load(disc, rhs)
    timings["assembly"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = coarse_solve(matrix, load)
    timings["coarse_solve"] = time.perf_counter() - t0
    lo, hi = sol.getOwnershipRange()
    u = disc.coarse_layout.to_structured(comm, sol.getArray()[: hi - lo])
    result = PGLODResult(u, matrix, load, sol, disc, mine, local, timings, dict(ps.timings))
    if corrected:
        t0 = time.perf_counter()
        result.u_corrected = corrected_solution(comm, correctors, mine, u, n_sub, ell)
        timings["corrected_solution"] = time.perf_counter() - t0
    if patch_solver is None:
        ps.close()
    return result
