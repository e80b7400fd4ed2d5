"""Global assembly of S_A, eq. (3.10), into a PETSc MPIAIJ matrix on DOLFINx's coarse dof map."""

import numpy as np
import pytest
from mpi4py import MPI

from lod_fenicsx.assembly import (
    assemble_global,
    coarse_layout,
    local_to_global_coo,
    to_structured_coo,
)
from lod_fenicsx.corrector import PatchSolver


def _dense(rows, cols, vals, size):
    out = np.zeros((size, size))
    np.add.at(out, (rows, cols), vals)
    return out


def _case(n_coarse=5, n_sub=2, ell=1, seed=0):
    a = np.random.default_rng(seed).uniform(1.0, 5.0, (n_coarse * n_sub,) * 2)
    return a, PatchSolver(n_coarse, n_sub, ell).local_matrices(a)


def test_layout_round_trip():
    layout = coarse_layout(MPI.COMM_WORLD, 4)
    assert np.array_equal(np.sort(layout.node_to_dof), np.arange(25))
    assert np.array_equal(layout.dof_to_node[layout.node_to_dof], np.arange(25))
    values = np.arange(25.0).reshape(5, 5)
    gathered = layout.to_structured(MPI.COMM_WORLD, layout.from_structured(values))
    assert np.array_equal(gathered, values)
    assert layout.boundary_nodes.size == 16


def _check_assembly(comm):
    n_coarse, ell = 5, 1
    _, local = _case(n_coarse, ell=ell)
    size = (n_coarse + 1) ** 2
    expected = _dense(*local_to_global_coo(local, np.arange(n_coarse**2), n_coarse, ell), size)
    # Each rank passes a strided share of the elements.
    mine = np.arange(comm.rank, n_coarse**2, comm.size)
    layout = coarse_layout(comm, n_coarse)
    mat = assemble_global(comm, local[mine], mine, n_coarse, ell, layout=layout)
    got = _dense(*to_structured_coo(mat, layout, root=None), size)
    boundary = layout.boundary_nodes
    expected[boundary, boundary] = 1.0  # Dirichlet diagonal
    mat.destroy()
    return np.abs(got - expected).max()


def test_assemble_global_serial():
    assert _check_assembly(MPI.COMM_SELF) < 1e-14


@pytest.mark.mpi
def test_assemble_global_parallel():
    assert _check_assembly(MPI.COMM_WORLD) < 1e-14


def test_assemble_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected \\(3, 16, 4\\)"):
        assemble_global(MPI.COMM_SELF, np.zeros((3, 15, 4)), np.arange(3), 5, 1)
