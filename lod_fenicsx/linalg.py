"""Linear algebra shared by the whole project: the coarse direct solve, CG + AMG, and one
assemble-lift-solve of a Dirichlet problem (the fine reference, REV cell problems, coarse FE).

* Coarse solve: S_A is non-symmetric (Petrov–Galerkin) and small (one unknown per coarse node),
  so a parallel sparse LU (MUMPS) is exact, robust and cheaper than any Krylov set-up at this
  size. Tune it with ``-lod_coarse_*``.
* SPD problems: CG preconditioned with algebraic multigrid (hypre BoomerAMG, GAMG if hypre is
  missing), options prefix chosen by the caller (e.g. ``-lod_fine_ksp_rtol``), or one LU
  factorisation reused for every solve where the problem is small (the hybrid coarse problem).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from petsc4py import PETSc

from plumbing.checks import (
    check_flag,
    check_indices,
    check_instance,
    check_real,
    check_size,
    check_str,
)


def coarse_solve(matrix: PETSc.Mat, load: PETSc.Vec, prefix: str = "lod_coarse_") -> PETSc.Vec:
    """Solve the non-symmetric PG-LOD system S_A U = F (default: MUMPS LU, options ``prefix``).

    Parameters
    ----------
    matrix : petsc4py.PETSc.Mat
        S_A (eq. (3.10)), assembled.
    load : petsc4py.PETSc.Vec
        F (eq. (3.7)), in ``matrix``'s row layout.
    prefix : str
        PETSc options prefix of the KSP (``-lod_coarse_pc_factor_mat_solver_type`` ...).

    Returns
    -------
    petsc4py.PETSc.Vec
        U, a new vector the caller destroys.

    Raises
    ------
    RuntimeError
        If the KSP reports divergence (e.g. a singular S_A).
    """
    check_instance("matrix", matrix, PETSc.Mat, "petsc4py.PETSc.Mat")
    check_instance("load", load, PETSc.Vec, "petsc4py.PETSc.Vec")
    check_str("prefix", prefix)
    rows = matrix.getSize()[0]
    if load.getSize() != rows:
        raise ValueError(f"load has {load.getSize()} entries, the matrix {rows} rows")
    ksp = lu_solver(matrix, prefix, package="mumps")
    sol = matrix.createVecRight()
    ksp.solve(load, sol)
    reason = ksp.getConvergedReason()
    ksp.destroy()
    if reason < 0:
        raise RuntimeError(f"coarse PG-LOD solve failed (KSP reason {reason})")
    return sol


def lu_solver(matrix: PETSc.Mat, prefix: str, package: str | None = None) -> PETSc.KSP:
    """A direct LU solve (PETSc's own, or ``package`` such as MUMPS), options prefix ``prefix``;
    the caller destroys the KSP."""
    ksp = PETSc.KSP().create(matrix.getComm())
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(matrix)
    ksp.setType("preonly")
    pc = ksp.getPC()
    pc.setType("lu")
    if package is not None:
        pc.setFactorSolverType(package)
    ksp.setFromOptions()
    return ksp


def cg_amg_solver(
    matrix: PETSc.Mat, prefix: str, rtol: float = 1e-10, atol: float = 1e-50, max_it: int = 10000
) -> PETSc.KSP:
    """CG preconditioned by algebraic multigrid (BoomerAMG, GAMG without hypre) for an SPD matrix.

    Options prefix ``prefix`` (e.g. ``-lod_fine_ksp_rtol``); the caller destroys the KSP.

    Parameters
    ----------
    matrix : petsc4py.PETSc.Mat
        The assembled SPD operator.
    prefix : str
        PETSc options prefix, such as ``"lod_fine_"``; command-line options override the
        arguments below.
    rtol : float
        Relative residual tolerance.
    atol : float
        Absolute residual tolerance.
    max_it : int
        Most CG iterations.

    Returns
    -------
    petsc4py.PETSc.KSP
        The configured solver (``setFromOptions`` applied), on ``matrix``'s communicator.
    """
    check_instance("matrix", matrix, PETSc.Mat, "petsc4py.PETSc.Mat")
    rtol, atol, max_it = _check_tolerances(prefix, rtol, atol, max_it)
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


def _check_tolerances(prefix, rtol, atol, max_it) -> tuple[float, float, int]:
    """An options prefix, rtol in (0, 1), atol >= 0 (finite) and max_it >= 1."""
    check_str("prefix", prefix)
    rtol = check_real("rtol", rtol, positive=True, most=1.0)
    return rtol, check_real("atol", atol, least=0.0), check_size("max_it", max_it)


def _has_pc(name: str) -> bool:
    pc = PETSc.PC().create(PETSc.COMM_SELF)
    try:
        pc.setType(name)
        return True
    except PETSc.Error:
        return False
    finally:
        pc.destroy()


class DirichletSolver:
    """a(w, v) = L(v) for w = g on the given dofs: one assembled matrix and one KSP.

    ``solve(L, g)`` may be called for several right-hand sides and boundary values (the REV cell
    problems solve twice with one matrix); g = 0 when not given. ``solve_array`` solves with an
    assembled right-hand side (the hybrid coarse adjoint). The KSP is CG + AMG, or a direct LU
    factorisation, computed once, with ``direct=True`` (small problems). Destroy with ``destroy()``.

    Parameters
    ----------
    a : ufl.Form
        The bilinear form a(w, v), symmetric positive definite on the free dofs.
    space : dolfinx.fem.FunctionSpace
        The space of w and v.
    dofs : numpy.ndarray
        The space's (local) dofs with w = g (e.g. from ``fem.locate_dofs_geometrical``).
    prefix : str
        PETSc options prefix of the KSP, such as ``"lod_fine_"``.
    rtol, atol : float
        CG tolerances (ignored with ``direct``).
    max_it : int
        Most CG iterations (ignored with ``direct``).
    direct : bool
        LU factorisation (computed once) instead of CG + AMG.

    Raises
    ------
    RuntimeError
        From the solves, if the KSP does not converge; the message names the options to switch
        to LU.
    """

    def __init__(
        self,
        a,
        space,
        dofs,
        prefix: str,
        rtol: float = 1e-10,
        atol: float = 1e-50,
        max_it: int = 10000,
        direct: bool = False,
    ):
        from dolfinx import fem
        from dolfinx.fem.petsc import assemble_matrix

        rtol, atol, max_it = _check_tolerances(prefix, rtol, atol, max_it)
        direct = check_flag("direct", direct)
        check_instance("space", space, fem.FunctionSpace, "dolfinx.fem.FunctionSpace")
        imap = space.dofmap.index_map
        local_dofs = (imap.size_local + imap.num_ghosts) * space.dofmap.index_map_bs
        dofs = check_indices("dofs", dofs, local_dofs).astype(np.int32)
        self.space, self.prefix = space, prefix
        self.a_form = fem.form(a)
        self.g = fem.Function(space)
        self.bc = fem.dirichletbc(self.g, dofs)
        self.matrix = assemble_matrix(self.a_form, bcs=[self.bc])
        self.matrix.assemble()
        if direct:
            self.ksp = lu_solver(self.matrix, prefix)
            self.ksp.setUp()  # factorise once, before the first solve
        else:
            self.ksp = cg_amg_solver(self.matrix, prefix, rtol=rtol, atol=atol, max_it=max_it)
        self._x, self._b = self.matrix.createVecs()

    def solve(self, L, boundary_values: Callable | None = None, name: str | None = None):
        """The solution as a DOLFINx function (ghosts updated).

        Parameters
        ----------
        L : ufl.Form
            The linear form L(v).
        boundary_values : callable, optional
            g as a DOLFINx interpolation expression, ``x -> values`` for ``x`` of shape
            ``(3, points)``; default g = 0.
        name : str, optional
            The name of the returned function.

        Returns
        -------
        dolfinx.fem.Function
            w, with its ghost values updated.
        """
        from dolfinx import fem

        vec = self._assemble_rhs(L, boundary_values)
        w = fem.Function(self.space, name=name)
        self._checked_solve(vec, w.x.petsc_vec)
        vec.destroy()
        w.x.scatter_forward()
        return w

    def rhs_array(self, L, boundary_values: Callable | None = None):
        """The assembled right-hand side of ``solve(L, g)`` (lifted, Dirichlet rows = g), owned
        entries as a NumPy array."""
        vec = self._assemble_rhs(L, boundary_values)
        values = vec.array.copy()
        vec.destroy()
        return values

    def _assemble_rhs(self, L, boundary_values: Callable | None) -> PETSc.Vec:
        from dolfinx import fem
        from dolfinx.fem.petsc import apply_lifting, assemble_vector, set_bc

        if boundary_values is None:
            self.g.x.array[:] = 0.0
        else:
            self.g.interpolate(boundary_values)
        vec = assemble_vector(fem.form(L))
        apply_lifting(vec, [self.a_form], bcs=[[self.bc]])
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        set_bc(vec, [self.bc])
        return vec

    def matrix_times(self, values):
        """A x for the owned entries x (NumPy) of a vector; A's Dirichlet rows are the identity."""
        self._b.array[:] = values
        self.matrix.mult(self._b, self._x)
        return self._x.array.copy()

    def solve_array(self, rhs):
        """x with A x = rhs for the owned entries of an assembled right-hand side (NumPy, the
        matrix's row layout; the Dirichlet rows give x = rhs there). Returns a new array."""
        self._b.array[:] = rhs
        self._checked_solve(self._b, self._x)
        return self._x.array.copy()

    def _checked_solve(self, b, x) -> None:
        self.ksp.solve(b, x)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            raise RuntimeError(
                f"{self.prefix}KSP did not converge (reason {reason}); "
                f"try -{self.prefix}ksp_type preonly -{self.prefix}pc_type lu"
            )

    def destroy(self):
        """Destroy the KSP, the matrix and the work vectors."""
        for obj in (self.ksp, self.matrix, self._x, self._b):
            obj.destroy()
