"""Fine finite element reference for the 1-D problem (57): P1 on a uniform DOLFINx interval mesh.

The weak form uses w = u + x, i.e. int K_eps (u' + 1) v' dx = int q v dx for v in H^1_0, which
avoids quadrature of the large derivative K_eps' in f.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI

from .problem import check_eps, k_eps, source_q

__all__ = ["FineReference", "fine_reference"]


@dataclass
class FineReference:
    """Nodal values of the fine P1 solution u_h on sorted nodes and its K~[u_h] = int K_eps (u_h' + 1)."""

    nodes: np.ndarray
    values: np.ndarray
    k_tilde: float


def fine_reference(eps: float, n_points: int = 1000, quadrature_degree: int = 8) -> FineReference:
    """P1 solution of (57) on n_points equidistant nodes (the paper's validation set, N_h^u = 1000)."""
    eps = check_eps(eps)
    if int(n_points) != n_points or n_points < 3:
        raise ValueError(f"n_points must be an integer >= 3, got {n_points!r}")
    comm = MPI.COMM_SELF
    domain = mesh.create_unit_interval(comm, int(n_points) - 1)
    V = fem.functionspace(domain, ("Lagrange", 1))
    x = ufl.SpatialCoordinate(domain)[0]
    K, q = k_eps(x, eps), source_q(x)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.dx(metadata={"quadrature_degree": quadrature_degree})
    facets = mesh.locate_entities_boundary(
        domain, 0, lambda p: np.isclose(p[0], 0.0) | np.isclose(p[0], 1.0)
    )
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, 0, facets), V)
    problem = LinearProblem(
        K * u.dx(0) * v.dx(0) * dx,
        (q * v - K * v.dx(0)) * dx,
        bcs=[bc],
        petsc_options={"ksp_type": "preonly", "pc_type": "lu"},
    )
    u_h = problem.solve()
    k_tilde = fem.assemble_scalar(fem.form(K * (u_h.dx(0) + 1.0) * dx))
    coordinates = V.tabulate_dof_coordinates()[:, 0]
    order = np.argsort(coordinates)
    return FineReference(coordinates[order], u_h.x.array[order].copy(), float(k_tilde))
