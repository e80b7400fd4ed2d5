"""Coarse-scale problem (48) in 1-D and its adjoint, eqs. (26)-(29), as a differentiable map.

State:   B_h[theta] y_h = F_h   with B_h = K~[v_theta] A_h,  (A_h)_ij = <phi_i', phi_j'>,
         (F_h)_j = <q, phi_j>, P1 on a uniform mesh of [0, 1], y(0) = y(1) = 0.
Adjoint: B_h^T p_h = g  for the incoming gradient g = dL/dy_h; since y_h depends on theta only
through the scalar K~, eq. (58) reduces to dL/dK~ = -p_h^T (A_h y_h), which autograd then carries
back to theta through K~[v_theta] (eq. 25). With the coupling term (11),
g = -2 tau_2 (P_h - M_h y_h), the right-hand side of (29) in Sec. 4.4.

Two solvers give the same matrices (to round-off, tested): ``"petsc"`` (default) assembles A_h,
F_h and M_h with DOLFINx and factorises A_h once with PETSc
(``lod_fenicsx.linalg.DirichletSolver``);
``"scipy"`` writes the P1 matrices of the uniform mesh in closed form, A_h = tridiag(-1, 2, -1)/h,
M_h = tridiag(1, 4, 1) h/6, F_h = M_h q (exact: q is linear), and factorises the interior block
with a Cholesky factorisation, for machines without DOLFINx and PETSc (the GPU machine).

The coarse mesh: Sec. 4.4 says "N_h degrees of freedom", dim Y_h = N_h, on the partition
{x_i}_{i=1}^{N_h} (N_h nodes, h = 1/(N_h - 1): ``COARSE_MESHES["nodes"]``), Sec. 4.5 says
h = 1/N_h (N_h cells, N_h + 1 nodes: ``"cells"``). Both are available.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve

from plumbing.checks import check_finite, check_instance, check_size, check_str

from .problem import source_q

__all__ = ["COARSE_MESHES", "COARSE_SOLVERS", "CoarseProblem", "CoarseState", "coarse_state"]

# Reading of "N_h" -> number of P1 nodes of the coarse mesh.
COARSE_MESHES = {"nodes": lambda n_h: n_h, "cells": lambda n_h: n_h + 1}
COARSE_SOLVERS = ("petsc", "scipy")


class CoarseProblem:
    """P1 stiffness A_h, load F_h, mass M_h and one factorisation of A_h on [0, 1], y(0) = y(1) = 0.

    Parameters
    ----------
    n_coarse
        N_h of Table 1 / Sec. 4.5.
    mesh_reading
        ``"nodes"``: N_h nodes (h = 1/(N_h - 1)); ``"cells"``: N_h cells (h = 1/N_h).
    solver
        ``"petsc"`` (DOLFINx + PETSc LU, options prefix ``prefix``, e.g.
        ``-coarse_pc_factor_mat_solver_type mumps``) or ``"scipy"`` (closed form, no DOLFINx).

    Vectors are nodal values in increasing x (``nodes``). A_h is factorised once and reused for
    every state and adjoint solve, because B_h = K~ A_h differs from A_h by a scalar.
    """

    def __init__(
        self,
        n_coarse: int,
        prefix: str = "coarse_",
        mesh_reading: str = "nodes",
        solver: str = "petsc",
    ):
        check_str("prefix", prefix)
        if mesh_reading not in COARSE_MESHES:
            raise ValueError(
                f"mesh_reading: unknown coarse mesh reading {mesh_reading!r}; use one of "
                f"{sorted(COARSE_MESHES)}"
            )
        if solver not in COARSE_SOLVERS:
            raise ValueError(
                f"solver: unknown coarse solver {solver!r}; use one of {COARSE_SOLVERS}"
            )
        if COARSE_MESHES[mesh_reading](check_size("n_coarse", n_coarse)) < 3:
            raise ValueError(
                f"n_coarse {n_coarse}: the coarse mesh needs N_h giving >= 3 nodes (N_h >= 3)"
            )
        self.n_coarse = int(n_coarse)
        self.mesh_reading = mesh_reading
        self.solver = solver
        self.n_nodes = COARSE_MESHES[mesh_reading](self.n_coarse)
        build = _PetscOperators if solver == "petsc" else _ScipyOperators
        self._operators = build(self.n_nodes, prefix)
        self.nodes = self._operators.nodes
        self.mass = self._operators.mass
        # B_h = K~ A_h: the state of every K~ is y_1 / K~ with y_1 solved once (A_h y_1 = F_h).
        self._unit_state = self._operators.solve(self._operators.load)

    def stiffness_times(self, y: np.ndarray) -> np.ndarray:
        """A_h y (Dirichlet rows: identity); A_h y_h is e_{K~}(y_h), the derivative of the state
        equation."""
        return self._operators.stiffness_times(np.asarray(y, dtype=float))

    def solve_state(self, k_tilde: float) -> np.ndarray:
        """y_h with K~ A_h y_h = F_h, eq. (29) left; nodal values in increasing x."""
        if not k_tilde > 0.0:
            raise ValueError(
                f"the coarse problem needs K~ > 0 (coercivity, Prop. 4.5), got {k_tilde}"
            )
        return self._unit_state / k_tilde

    def solve_adjoint(self, k_tilde: float, rhs: np.ndarray) -> np.ndarray:
        """p_h with (K~ A_h)^T p_h = rhs, eq. (29) right (A_h is symmetric)."""
        rhs = np.asarray(rhs, dtype=float).copy()
        rhs[[0, -1]] = 0.0  # the adjoint inherits the homogeneous Dirichlet rows of the state
        return self._operators.solve(rhs) / k_tilde

    def destroy(self) -> None:
        self._operators.destroy()


class _ScipyOperators:
    """The P1 matrices of the uniform mesh in closed form; a dense Cholesky factorisation of
    the interior block (N_h - 2 unknowns)."""

    def __init__(self, n_nodes: int, prefix: str):
        self.nodes = np.linspace(0.0, 1.0, n_nodes)
        h = 1.0 / (n_nodes - 1)
        ones = np.ones(n_nodes - 1)
        self.mass = np.diag(np.r_[2.0, 4.0 * ones[1:], 2.0]) + np.diag(ones, 1) + np.diag(ones, -1)
        self.mass *= h / 6.0
        self.load = self.mass @ source_q(self.nodes)
        self.load[[0, -1]] = 0.0
        inner = n_nodes - 2
        self._stiffness_inner = (2.0 * np.eye(inner) - np.eye(inner, k=1) - np.eye(inner, k=-1)) / h
        self._factor = cho_factor(self._stiffness_inner)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        x = rhs.copy()  # Dirichlet rows: x = rhs
        x[1:-1] = cho_solve(self._factor, rhs[1:-1])
        return x

    def stiffness_times(self, y: np.ndarray) -> np.ndarray:
        out = y.copy()
        out[1:-1] = self._stiffness_inner @ y[1:-1]
        return out

    def destroy(self) -> None:
        pass


class _PetscOperators:
    """A_h, F_h, M_h assembled by DOLFINx on a serial interval mesh; A_h factorised by PETSc LU."""

    def __init__(self, n_nodes: int, prefix: str):
        import ufl
        from dolfinx import fem, mesh
        from dolfinx.fem.petsc import assemble_matrix
        from mpi4py import MPI

        from lod_fenicsx.linalg import DirichletSolver

        domain = mesh.create_unit_interval(MPI.COMM_SELF, n_nodes - 1)
        V = fem.functionspace(domain, ("Lagrange", 1))
        x = ufl.SpatialCoordinate(domain)[0]
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        facets = mesh.locate_entities_boundary(
            domain, 0, lambda p: np.isclose(p[0], 0.0) | np.isclose(p[0], 1.0)
        )
        dofs = fem.locate_dofs_topological(V, 0, facets)
        self._solver = DirichletSolver(u.dx(0) * v.dx(0) * ufl.dx, V, dofs, prefix, direct=True)
        coordinates = V.tabulate_dof_coordinates()[:, 0]
        self._order = np.argsort(coordinates)  # dof -> increasing x
        self.nodes = coordinates[self._order]
        self.load = self._solver.rhs_array(source_q(x) * v * ufl.dx)[self._order]
        mass = assemble_matrix(fem.form(u * v * ufl.dx))
        mass.assemble()
        self.mass = mass.convert("dense").getDenseArray()[np.ix_(self._order, self._order)].copy()
        mass.destroy()

    def _to_dofs(self, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[self._order] = values
        return out

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return self._solver.solve_array(self._to_dofs(rhs))[self._order]

    def stiffness_times(self, y: np.ndarray) -> np.ndarray:
        return self._solver.matrix_times(self._to_dofs(y))[self._order]

    def destroy(self) -> None:
        self._solver.destroy()


class CoarseState(torch.autograd.Function):
    """K~ -> y_h(K~) for one K~ per member: forward solves the states, backward the adjoints
    (26)-(29)."""

    @staticmethod
    def forward(ctx, k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
        ks = k_tilde.detach().double().reshape(-1).tolist()
        ys = np.stack([problem.solve_state(k) for k in ks])
        ctx.problem, ctx.ks, ctx.ys = problem, ks, ys
        ctx.shape = k_tilde.shape
        ys = torch.as_tensor(ys, dtype=k_tilde.dtype, device=k_tilde.device)
        return ys.reshape(*k_tilde.shape, -1)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        grads = grad_y.detach().double().reshape(len(ctx.ks), -1).cpu().numpy()
        problem = ctx.problem
        # dL/dK~ = -<p_h, e_{K~}(y_h)> with e_{K~}(y_h) = A_h y_h, cf. eq. (58);
        # one adjoint per member.
        grad_k = [
            -float(problem.solve_adjoint(k, g) @ problem.stiffness_times(y))
            for k, g, y in zip(ctx.ks, grads, ctx.ys)
        ]
        grad_k = torch.tensor(grad_k, dtype=grad_y.dtype, device=grad_y.device)
        return grad_k.reshape(ctx.shape), None


def coarse_state(k_tilde: torch.Tensor, problem: CoarseProblem) -> torch.Tensor:
    """Differentiable coarse state y_h(K~) on the sorted FE nodes (boundary values zero).

    ``k_tilde`` of shape () or (S,) gives y_h of shape (N,) or (S, N). The forward pass solves
    K~ A_h y_h = F_h, the backward pass the adjoint problems (26)-(29), one per member.

    Parameters
    ----------
    k_tilde : torch.Tensor
        K~ > 0, a scalar or one value per network member, shape () or (S,).
    problem : CoarseProblem
        The coarse P1 problem (its factorisation of A_h is reused).

    Returns
    -------
    torch.Tensor
        y_h at ``problem.nodes``, shape ``k_tilde.shape + (N,)``, N = len(problem.nodes); of
        ``k_tilde``'s dtype and device.

    Examples
    --------
    >>> import torch
    >>> problem = CoarseProblem(6, solver="scipy")
    >>> k = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    >>> y = coarse_state(k, problem)
    >>> y.shape
    torch.Size([2, 6])
    >>> y.sum().backward()  # through the adjoint
    >>> k.grad.shape
    torch.Size([2])
    """
    check_instance("k_tilde", k_tilde, torch.Tensor, "torch.Tensor")
    check_instance("problem", problem, CoarseProblem)
    if not k_tilde.is_floating_point() or k_tilde.ndim > 1:
        raise ValueError(
            f"k_tilde must be a real floating tensor of shape () or (S,), got {k_tilde.dtype} "
            f"of shape {tuple(k_tilde.shape)}"
        )
    check_finite("k_tilde", k_tilde.detach().cpu().numpy())
    return CoarseState.apply(k_tilde, problem)
