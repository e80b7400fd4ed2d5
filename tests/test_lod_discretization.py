"""DOLFINx meshes and the structured index maps of lod_fenicsx.discretization / coefficient."""

import numpy as np
import pytest
from mpi4py import MPI

from lod_fenicsx.coefficient import coefficient_function
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.q1 import reference_element_matrices


def _moments(comm):
    """∫ A x y dx from the DG0 function vs the [iy, ix] array (midpoint rule is exact)."""
    import ufl
    from dolfinx import fem

    n_coarse, n_sub = 3, 4
    disc = Discretization(comm, n_coarse, n_sub)
    n = disc.n_fine
    a = np.random.default_rng(0).uniform(1, 5, (n, n))
    func = coefficient_function(disc, a)
    x = ufl.SpatialCoordinate(disc.fine_mesh)
    local = fem.assemble_scalar(fem.form(func * x[0] * x[1] ** 2 * ufl.dx))
    got = comm.allreduce(local, op=MPI.SUM)
    mid = (np.arange(n) + 0.5) / n
    # ∫ over a cell of x y^2 = h x_mid (h (y_mid^2 h + h^3/12)) for the exact y^2 moment.
    h = 1.0 / n
    cell = h * mid[None, :] * (h * mid[:, None] ** 2 + h**3 / 12)
    expected = float((a * cell).sum())
    # Every fine cell belongs to one rank; parents follow by index arithmetic.
    cells = np.concatenate(comm.allgather(disc.fine_cells()))
    parents = np.concatenate(comm.allgather(disc.child_to_parent()))
    iy, ix = np.divmod(cells, n)
    assert np.array_equal(np.sort(cells), np.arange(n * n))
    assert np.array_equal(parents, (iy // n_sub) * n_coarse + ix // n_sub)
    coarse = np.concatenate(comm.allgather(disc.coarse_cells()))
    assert np.array_equal(np.sort(coarse), np.arange(n_coarse**2))
    return abs(got - expected) / expected


def test_coefficient_orientation_serial():
    assert _moments(MPI.COMM_SELF) < 1e-13


@pytest.mark.mpi
def test_coefficient_orientation_parallel():
    assert _moments(MPI.COMM_WORLD) < 1e-13


def test_reference_matrices():
    """The closed-form Q1 templates equal DOLFINx's assembly on the unit square (to round-off)."""
    import ufl
    from dolfinx import fem

    from lod_fenicsx.discretization import structured_dof_index, unit_square

    k_ref, m_ref = reference_element_matrices()
    # Q1 on the unit square, nodes (y0x0, y0x1, y1x0, y1x1): known closed forms.
    assert np.array_equal(
        k_ref, np.array([[4, -1, -1, -2], [-1, 4, -2, -1], [-1, -2, 4, -1], [-2, -1, -1, 4]]) / 6
    )
    assert (
        np.abs(
            m_ref - np.array([[4, 2, 2, 1], [2, 4, 1, 2], [2, 1, 4, 2], [1, 2, 2, 4]]) / 36
        ).max()
        < 1e-17
    )
    mesh = unit_square(MPI.COMM_SELF, 1)
    space = fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    order = np.argsort(structured_dof_index(space, 1))
    for form, ours in (
        (ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, k_ref),
        (u * v * ufl.dx, m_ref),
    ):
        dolfinx_matrix = fem.assemble_matrix(fem.form(form)).to_dense()[np.ix_(order, order)]
        assert np.abs(dolfinx_matrix - ours).max() < 1e-15
    assert np.abs(k_ref.sum(axis=1)).max() < 1e-16  # constants are in the kernel


def _dolfinx_structured(mesh, form_of, n):
    """DOLFINx's assembled matrix of ``form_of(u, v)`` with rows in the C order of the node
    coordinates ([.., iy, ix]) of a uniform mesh of ``n`` cells per axis of the unit cell."""
    import ufl
    from dolfinx import fem

    space = fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(space), ufl.TestFunction(space)
    x = space.tabulate_dof_coordinates()[:, : mesh.geometry.dim]
    ijk = np.rint(x * n).astype(int)[:, ::-1]  # (.., iy, ix)
    index = np.ravel_multi_index(ijk.T, (n + 1,) * mesh.geometry.dim)
    order = np.argsort(index)
    return fem.assemble_matrix(fem.form(form_of(u, v))).to_dense()[np.ix_(order, order)]


@pytest.mark.parametrize("dim", [2, 3])
def test_structured_q1_assembly_equals_dolfinx_on_quads_and_hexes(dim):
    """q1_matrix with the dim-D templates = DOLFINx's stiffness (with a cellwise coefficient)
    and mass on a uniform mesh with 3 cells per axis."""
    import ufl
    from dolfinx import fem, mesh

    from lod_fenicsx.q1 import q1_matrix

    n = 3
    if dim == 2:
        m = mesh.create_unit_square(MPI.COMM_SELF, n, n, mesh.CellType.quadrilateral)
    else:
        m = mesh.create_unit_cube(MPI.COMM_SELF, n, n, n, mesh.CellType.hexahedron)
    a = np.random.default_rng(dim).uniform(1.0, 5.0, (n,) * dim)  # [.., iy, ix]
    dg0 = fem.functionspace(m, ("DG", 0))
    coefficient = fem.Function(dg0)
    mid = dg0.tabulate_dof_coordinates()[:, :dim]
    coefficient.x.array[:] = a[tuple(np.floor(mid * n).astype(int)[:, ::-1].T)]
    k_ref, m_ref = reference_element_matrices(dim)
    h = 1.0 / n
    stiffness = _dolfinx_structured(
        m, lambda u, v: coefficient * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx, n
    )
    mass = _dolfinx_structured(m, lambda u, v: u * v * ufl.dx, n)
    assert np.abs(stiffness - q1_matrix(a, h ** (dim - 2) * k_ref).toarray()).max() < 1e-13
    assert np.abs(mass - q1_matrix(np.ones_like(a), h**dim * m_ref).toarray()).max() < 1e-15
    assert np.abs(k_ref.sum(axis=1)).max() < 1e-15  # constants are in the kernel
    assert k_ref.shape == (2**dim, 2**dim) and abs(m_ref.sum() - 1.0) < 1e-15  # |cell| = 1
    # Diagonals in closed form: d (1/3)^(d-1) and (1/3)^d.
    assert np.allclose(np.diag(k_ref), dim * 3.0 ** -(dim - 1), rtol=0, atol=1e-15)
    assert np.allclose(np.diag(m_ref), 3.0**-dim, rtol=0, atol=1e-16)
