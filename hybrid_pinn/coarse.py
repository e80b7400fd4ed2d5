"""Coarse-scale problem (48) in 1-D and its adjoint, eqs. (26)-(29), as a differentiable map.

State:   B_h[theta] y_h = F_h   with B_h = K~[v_theta] A_h,  (A_h)_ij = <phi_i', phi_j'>,
         (F_h)_j = <q, phi_j>, P1 on a uniform DOLFINx interval mesh with N_h nodes.
Adjoint: B_h^T p_h = g  for the incoming gradient g = dL/dy_h; since y_h depends on theta only
through the scalar K~, eq. (58) reduces to dL/dK~ = -p_h^T (A_h y_h), which autograd then carries
back to theta through K~[v_theta] (eq. 25).
"""

from __future__ import annotations

import numpy as np
import torch
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
from mpi4py import MPI
from petsc4py import PETSc

__all__ = ["CoarseProblem", "CoarseState", "coarse_state"]


class CoarseProblem:
    """P1 stiffness A_h, load F_h and one factorised KSP on [0, 1] with N_h nodes, y(0) = y(1) = 0.

    The KSP carries the options prefix ``prefix`` (default ``coarse_``), so e.g.
    ``-coarse_pc_factor_mat_solver_type mumps`` tunes it; it is created and factorised once and
    reused for every state and adjoint solve, because B_h = K~ A_h differs from A_h by a scalar.
    """

    def __init__(self, n_nodes: int, comm: MPI.Comm = MPI.COMM_SELF, prefix: str = "coarse_"):
        if int(n_nodes) != n_nodes or n_nodes < 3:
            raise ValueError(f"the coarse mesh needs an integer number of nodes N_h >= 3, got {n_nodes!r}")
        self.n_nodes = int(n_nodes)
        domain = mesh.create_unit_interval(comm, self.n_nodes - 1)
        V = fem.functionspace(domain, ("Lagrange", 1))
        x = ufl.SpatialCoordinate(domain)[0]
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        facets = mesh.locate_entities_boundary(
            domain, 0, lambda p: np.isclose(p[0], 0.0) | np.isclose(p[0], 1.0)
        )
        bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 0, facets), V)
        stiffness = fem.form(u.dx(0) * v.dx(0) * ufl.dx)
        load = fem.form(-3.0 * (2.0 * x - 1.0) * v * ufl.dx)

        self._A = assemble_matrix(stiffness, bcs=[bc])
        self._A.assemble()
        self._F = assemble_vector(load)
        apply_lifting(self._F, [stiffness], bcs=[[bc]])
        self._F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        set_bc(self._F, [bc])

        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(prefix)
        self.ksp.setOperators(self._A)
        self.ksp.setType("preonly")
        self.ksp.getPC().setType("lu")
        self.ksp.setFromOptions()
        self.ksp.setUp()
        self._y, self._rhs = self._A.createVecs()

        coordinates = V.tabulate_dof_coordinates()[:, 0]
        self._order = np.argsort(coordinates)  # dof -> sorted node order
        self.nodes = coordinates[self._order]
        # Mass matrix in sorted node order, for the L^2 coupling norm and the adjoint rhs (29).
        mass = assemble_matrix(fem.form(u * v * ufl.dx))
        mass.assemble()
        self.mass = mass.convert("dense").getDenseArray()[np.ix_(self._order, self._order)].copy()
        mass.destroy()

    def _solve(self, rhs_sorted: np.ndarray, transpose: bool) -> np.ndarray:
        self._rhs.array[self._order] = rhs_sorted
        (self.ksp.solveTranspose if transpose else self.ksp.solve)(self._rhs, self._y)
        return self._y.array[self._order].copy()

    def stiffness_times(self, y_sorted: np.ndarray) -> np.ndarray:
        """A_h y in sorted node order; A_h y_h is e_{K~}(y_h), the derivative of the state equation."""
        self._rhs.array[self._order] = y_sorted
        self._A.mult(self._rhs, self._y)
        return self._y.array[self._order].copy()

    def solve_state(self, k_tilde: float) -> np.ndarray:
        """y_h with K~ A_h y_h = F_h, eq. (29) left; nodal values in sorted node order."""
        if not k_tilde > 0.0:
            raise ValueError(f"the coarse problem needs K~ > 0 (coercivity, Prop. 4.5), got {k_tilde}")
        return self._solve(self._F.array[self._order], transpose=False) / k_tilde

    def solve_adjoint(self, k_tilde: float, rhs: np.ndarray) -> np.ndarray:
        """p_h with (K~ A_h)^T p_h = rhs, eq. (29) right."""
        rhs = np.asarray(rhs, dtype=float).copy()
        rhs[[0, -1]] = 0.0  # the adjoint inherits the homogeneous Dirichlet rows of the state
        return self._solve(rhs, transpose=True) / k_tilde

    def destroy(self) -> None:
        for obj in (self.ksp, self._A, self._F, self._y, self._rhs):
            obj.destroy()


class CoarseState(torch.autograd.Function):
    """K~ -> y_h(K~): forward solves the state, backward the adjoint (26)-(29), both with PETSc."""

    @staticmethod
    def forward(ctx, k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
        y = problem.solve_state(float(k_tilde.detach()))
        ctx.problem = problem
        ctx.save_for_backward(k_tilde)
        ctx.y = y
        return torch.as_tensor(y, dtype=k_tilde.dtype)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        (k_tilde,) = ctx.saved_tensors
        p = ctx.problem.solve_adjoint(float(k_tilde.detach()), grad_y.detach().double().numpy())
        # dL/dK~ = -<p_h, e_{K~}(y_h)> with e_{K~}(y_h) = A_h y_h, cf. eq. (58).
        grad_k = -float(p @ ctx.problem.stiffness_times(ctx.y))
        return torch.tensor(grad_k, dtype=k_tilde.dtype).reshape(k_tilde.shape), None


def coarse_state(k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
    """Differentiable coarse state y_h(K~) on the sorted FE nodes (boundary values zero)."""
    return CoarseState.apply(k_tilde, problem)
