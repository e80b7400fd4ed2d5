"""The environment: the pinned stack, an optimized BLAS, and DOLFINx assembly on any rank count."""

import os

import numpy as np
import pytest
from mpi4py import MPI

import hybrid_pinn
import lod_fenicsx
import nn_compress


def test_stack_versions():
    import dolfinx
    import h5py
    import petsc4py
    import torch
    import ufl

    assert dolfinx.__version__ == "0.9.0"
    assert petsc4py.__version__.startswith("3.22")
    assert ufl.__version__.startswith("2024.2")
    assert int(torch.__version__.split(".")[0]) == 2
    assert h5py.get_config().mpi, "h5py must be built with parallel HDF5"
    for package in (lod_fenicsx, nn_compress, hybrid_pinn):
        assert package.__version__ == "0.1.0"


def test_optimized_blas():
    """The reference BLAS made a training step 14x slower: OpenBLAS must be the one in use."""
    blas = os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    if not os.path.exists(blas):
        pytest.skip("not a Debian-alternatives system (conda)")
    assert "openblas" in blas


def _stiffness_frobenius(comm: MPI.Comm, n: int = 8) -> float:
    """Frobenius norm of the Q1 stiffness matrix of -div(a grad u), a = 1 + x y, on an n x n quad mesh."""
    import ufl
    from dolfinx import fem, mesh
    from dolfinx.fem.petsc import assemble_matrix

    domain = mesh.create_unit_square(comm, n, n, mesh.CellType.quadrilateral)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(domain)
    A = assemble_matrix(fem.form((1 + x[0] * x[1]) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    A.assemble()
    ones, row_sums = A.createVecs()
    ones.set(1.0)
    A.mult(ones, row_sums)
    assert row_sums.norm() < 1e-12, "row sums of a stiffness matrix vanish"
    norm = A.norm(3)  # PETSc.NormType.FROBENIUS
    for obj in (A, ones, row_sums):
        obj.destroy()
    return norm


def test_stiffness_serial_value():
    # Value recorded from the first run of this stack (DOLFINx 0.9.0, 8 x 8 quadrilaterals).
    assert _stiffness_frobenius(MPI.COMM_SELF) == pytest.approx(9.416666666666659, rel=1e-12)


@pytest.mark.mpi
def test_stiffness_rank_independent():
    comm = MPI.COMM_WORLD
    parallel = _stiffness_frobenius(comm)
    serial = _stiffness_frobenius(MPI.COMM_SELF)
    assert parallel == pytest.approx(serial, rel=1e-12)
    assert comm.allreduce(1) == comm.size
    assert np.isfinite(parallel)
