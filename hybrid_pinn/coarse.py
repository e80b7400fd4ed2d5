"""Coarse-scale problem (48) in 1-D and its adjoint, eqs. (26)-(29), as a differentiable map.

State:   B_h[theta] y_h = F_h   with B_h = K~[v_theta] A_h,  (A_h)_ij = <phi_i', phi_j'>,
         (F_h)_j = <q, phi_j>, P1 on a uniform DOLFINx interval mesh.
Adjoint: B_h^T p_h = g  for the incoming gradient g = dL/dy_h; since y_h depends on theta only
through the scalar K~, eq. (58) reduces to dL/dK~ = -p_h^T (A_h y_h), which autograd then carries
back to theta through K~[v_theta] (eq. 25). With the coupling term (11), g = -2 tau_2 (P_h - M_h y_h),
the right-hand side of (29) in Sec. 4.4.

The coarse mesh: Sec. 4.4 says "N_h degrees of freedom", dim Y_h = N_h, on the partition
{x_i}_{i=1}^{N_h} (N_h nodes, h = 1/(N_h - 1): ``COARSE_MESHES["nodes"]``), Sec. 4.5 says
h = 1/N_h (N_h cells, N_h + 1 nodes: ``"cells"``). Both are available.
"""

from __future__ import annotations

import numpy as np
import torch
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
from mpi4py import MPI
from petsc4py import PETSc

from .problem import source_q

__all__ = ["COARSE_MESHES", "CoarseProblem", "CoarseState", "coarse_state"]

# Reading of "N_h" -> number of P1 nodes of the coarse mesh.
COARSE_MESHES = {"nodes": lambda n_h: n_h, "cells": lambda n_h: n_h + 1}


class CoarseProblem:
    """P1 stiffness A_h, load F_h and one factorised KSP on [0, 1], y(0) = y(1) = 0.

    Parameters
    ----------
    n_coarse
        N_h of Table 1 / Sec. 4.5.
    mesh_reading
        ``"nodes"``: N_h nodes (h = 1/(N_h - 1)); ``"cells"``: N_h cells (h = 1/N_h).

    The KSP carries the options prefix ``prefix`` (default ``coarse_``), so e.g.
    ``-coarse_pc_factor_mat_solver_type mumps`` tunes it; it is created and factorised once and
    reused for every state and adjoint solve, because B_h = K~ A_h differs from A_h by a scalar.
    """

    def __init__(
        self,
        n_coarse: int,
        comm: MPI.Comm = MPI.COMM_SELF,
        prefix: str = "coarse_",
        mesh_reading: str = "nodes",
    ):
        if mesh_reading not in COARSE_MESHES:
            raise ValueError(
                f"unknown coarse mesh reading {mesh_reading!r}; use one of {sorted(COARSE_MESHES)}"
            )
        if int(n_coarse) != n_coarse or COARSE_MESHES[mesh_reading](int(n_coarse)) < 3:
            raise ValueError(
                f"the coarse mesh needs an integer N_h giving >= 3 nodes (N_h >= 3), got {n_coarse!r}"
            )
        self.n_coarse = int(n_coarse)
        self.mesh_reading = mesh_reading
        self.n_nodes = COARSE_MESHES[mesh_reading](self.n_coarse)
        domain = mesh.create_unit_interval(comm, self.n_nodes - 1)
        V = fem.functionspace(domain, ("Lagrange", 1))
        x = ufl.SpatialCoordinate(domain)[0]
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        facets = mesh.locate_entities_boundary(
            domain, 0, lambda p: np.isclose(p[0], 0.0) | np.isclose(p[0], 1.0)
        )
        bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 0, facets), V)
        stiffness = fem.form(u.dx(0) * v.dx(0) * ufl.dx)
        load = fem.form(source_q(x) * v * ufl.dx)

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
        # B_h = K~ A_h: the state of every K~ is y_1 / K~ with y_1 solved once (A_h y_1 = F_h).
        self._unit_state = self._solve(self._F.array[self._order], transpose=False)

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
            raise ValueError(
                f"the coarse problem needs K~ > 0 (coercivity, Prop. 4.5), got {k_tilde}"
            )
        return self._unit_state / k_tilde

    def solve_adjoint(self, k_tilde: float, rhs: np.ndarray) -> np.ndarray:
        """p_h with (K~ A_h)^T p_h = rhs, eq. (29) right."""
        rhs = np.asarray(rhs, dtype=float).copy()
        rhs[[0, -1]] = 0.0  # the adjoint inherits the homogeneous Dirichlet rows of the state
        return self._solve(rhs, transpose=True) / k_tilde

    def destroy(self) -> None:
        for obj in (self.ksp, self._A, self._F, self._y, self._rhs):
            obj.destroy()


class CoarseState(torch.autograd.Function):
    """K~ -> y_h(K~) for one K~ per member: forward solves the states, backward the adjoints (26)-(29)."""

    @staticmethod
    def forward(ctx, k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
        ks = k_tilde.detach().double().reshape(-1).tolist()
        ys = np.stack([problem.solve_state(k) for k in ks])
        ctx.problem, ctx.ks, ctx.ys = problem, ks, ys
        ctx.shape = k_tilde.shape
        return torch.as_tensor(ys, dtype=k_tilde.dtype).reshape(*k_tilde.shape, -1)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        grads = grad_y.detach().double().reshape(len(ctx.ks), -1).numpy()
        problem = ctx.problem
        # dL/dK~ = -<p_h, e_{K~}(y_h)> with e_{K~}(y_h) = A_h y_h, cf. eq. (58); one adjoint per member.
        grad_k = [
            -float(problem.solve_adjoint(k, g) @ problem.stiffness_times(y))
            for k, g, y in zip(ctx.ks, grads, ctx.ys)
        ]
        return torch.tensor(grad_k, dtype=grad_y.dtype).reshape(ctx.shape), None


def coarse_state(k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
    """Differentiable coarse state y_h(K~) on the sorted FE nodes (boundary values zero).

    ``k_tilde`` of shape () or (S,) gives y_h of shape (N,) or (S, N).
    """
    return CoarseState.apply(k_tilde, problem)
