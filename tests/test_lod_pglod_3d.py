"""PG-LOD end to end in 3-D on DOLFINx hexahedra (paper 000, Secs. 3.3-3.4, d = 3): u_H against
the whole-grid SciPy reference (``lod_reference``, none of the patch code), the load, the fine
reference, the norms, rank-count independence and the command line."""

import subprocess

import numpy as np
import pytest
from helpers import solve_command
from lod_reference import (
    coarse_interior,
    fine_solution,
    galerkin_lod_matrix,
    mass,
    pglod_solution,
)
from mpi4py import MPI

from lod_fenicsx import metrics
from lod_fenicsx.discretization import Discretization, parent_element
from lod_fenicsx.interpolation import prolongation
from lod_fenicsx.loads import coarse_load, fine_load
from lod_fenicsx.pglod import pglod_solve
from lod_fenicsx.reference import fine_solve

N_SUB, ELL = 2, 1


def _midpoints(n_fine):
    """Cell midpoints (x, y, z) as ``[iz, iy, ix]`` arrays."""
    c = (np.arange(n_fine) + 0.5) / n_fine
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    return x, y, z


def _coefficient(kind, n_fine, seed=0):
    if kind == "iid":
        return np.random.default_rng(seed).uniform(1.0, 10.0, (n_fine,) * 3)
    if kind == "channels":  # straight channels of 1e4 along x through a matrix of 1
        iz, iy = np.indices((n_fine, n_fine))
        channel = (iz % 3 == 1) & (iy % 3 == 1)
        return np.broadcast_to(np.where(channel, 1e4, 1.0)[:, :, None], (n_fine,) * 3).copy()
    x, y, z = _midpoints(n_fine)
    return 2.0 + np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y) * np.sin(2 * np.pi * z)


def _nodes(n):
    """Node coordinates (x, y, z) as ``[iz, iy, ix]`` arrays on (0,1)^3 with n cells per side."""
    c = np.arange(n + 1) / n
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    return x, y, z


@pytest.mark.parametrize("kind, n_coarse", [("iid", 3), ("channels", 4), ("smooth", 3)], ids=str)
@pytest.mark.parametrize("rhs", ["one", "x"])
def test_u_coarse_equals_the_whole_grid_reference(kind, n_coarse, rhs):
    a = _coefficient(kind, n_coarse * N_SUB, seed=n_coarse)
    result = pglod_solve(MPI.COMM_SELF, a, n_coarse, N_SUB, ELL, rhs=rhs)
    x = _nodes(n_coarse)[0]
    f = np.ones_like(x) if rhs == "one" else x  # multilinear: (f, λ_i) = (M_H f)_i exactly
    expected = pglod_solution(a, n_coarse, N_SUB, ELL, f).reshape(x.shape)
    assert result.u_coarse.shape == (n_coarse + 1,) * 3
    # The issue asks for 1e-8; measured <= 5.6e-13 (channels of contrast 1e4), <= 1e-15 otherwise.
    assert np.abs(result.u_coarse - expected).max() < 1e-11 * np.abs(expected).max()
    assert result.local_matrices.shape == (n_coarse**3, (2 * ELL + 2) ** 3, 8)
    assert np.abs(expected).max() > 1e-4  # not trivial (u_H may dip below 0 at high contrast)
    result.destroy()


def test_coarse_and_fine_loads_in_3d():
    disc = Discretization(MPI.COMM_SELF, 3, 2, dim=3)
    layout = disc.coarse_layout
    one = layout.to_structured(MPI.COMM_SELF, coarse_load(disc, "one").array)
    interior = one[1:-1, 1:-1, 1:-1]
    assert np.abs(interior - 3.0**-3).max() < 1e-15  # ∫ λ_i = H^3
    assert one[0].max() == 0.0 and one[:, :, -1].max() == 0.0  # Dirichlet entries
    x = _nodes(3)[0]
    pairing = layout.to_structured(MPI.COMM_SELF, coarse_load(disc, "x").array)
    exact = (mass(3, 3) @ x.ravel()).reshape(x.shape)
    assert np.abs(pairing - exact)[1:-1, 1:-1, 1:-1].max() < 1e-16
    # The load is linear in x only: it does not change along y and z in the interior.
    assert np.ptp(pairing[1:-1, 1:-1, 1], axis=None) < 1e-17
    fine = disc.fine_layout.to_structured(MPI.COMM_SELF, fine_load(disc, "one").array)
    assert np.abs(fine[1:-1, 1:-1, 1:-1] - 6.0**-3).max() < 1e-16


def test_layouts_and_cells_of_the_hexahedral_meshes():
    disc = Discretization(MPI.COMM_SELF, 2, 3, dim=3)
    layout = disc.fine_layout
    coords = disc.fine_space.tabulate_dof_coordinates()[: layout.local_nodes.size]
    nodal = [layout.to_structured(MPI.COMM_SELF, coords[:, a]) for a in range(3)]
    for axis, expected in enumerate(_nodes(6)):
        assert np.abs(nodal[axis] - expected).max() < 1e-15
    assert layout.boundary_nodes.size == 7**3 - 5**3
    cells = disc.fine_cells()
    assert np.array_equal(np.sort(cells), np.arange(6**3))
    parent = disc.child_to_parent()
    iz, iy, ix = np.unravel_index(cells, (6, 6, 6))
    assert np.array_equal(parent, (iz // 3 * 2 + iy // 3) * 2 + ix // 3)
    iy, ix = np.divmod(np.arange(36), 6)  # the same function in 2-D: 6 x 6 cells, N_H = 3
    assert np.array_equal(parent_element(np.arange(36), 3, 2), iy // 2 * 3 + ix // 2)


def test_fine_reference_and_norms_in_3d():
    n_coarse, n_sub = 2, 3
    a = _coefficient("iid", n_coarse * n_sub, seed=5)
    disc = Discretization(MPI.COMM_SELF, n_coarse, n_sub, dim=3)
    _, u_fine = fine_solve(disc, a, "x", rtol=1e-13)
    expected = fine_solution(a, _nodes(6)[0]).reshape(u_fine.shape)
    assert np.abs(u_fine - expected).max() < 1e-10 * np.abs(expected).max()
    # Norms of known functions: ‖1‖ = 1, ‖x‖² = 1/3, ‖∇x‖ = 1, ‖√A ∇x‖² = mean of A.
    x = _nodes(6)[0]
    assert abs(metrics.l2_norm(np.ones_like(x)) - 1.0) < 1e-14
    assert abs(metrics.l2_norm(x) ** 2 - 1 / 3) < 1e-14
    assert abs(metrics.energy_norm(x, np.ones((6,) * 3)) - 1.0) < 1e-14
    assert abs(metrics.energy_norm(x, a) ** 2 - a.mean()) < 1e-12
    # P u_H of a trilinear u_H is exact, and I_H P = 1 on the coarse functions that vanish on
    # ∂D (here the hat of the centre node): both errors vanish.
    x_coarse = _nodes(2)[0]
    assert metrics.fine_l2_error(x, x_coarse) < 1e-15
    hat = np.zeros((3, 3, 3))
    hat[1, 1, 1] = 1.0
    fine_hat = (prolongation(2, 3, 3) @ hat.ravel()).reshape(x.shape)
    assert metrics.interpolated_l2_error(fine_hat, hat) < 1e-15
    assert metrics.interpolated_l2_error(fine_hat, 0 * hat) > 0.1


def test_corrected_solution_in_3d_is_the_ideal_one_on_whole_domain_patches():
    n_coarse = 3
    a = _coefficient("iid", n_coarse * N_SUB, seed=2)
    disc = Discretization(MPI.COMM_SELF, n_coarse, N_SUB, dim=3)
    result = pglod_solve(MPI.COMM_SELF, a, n_coarse, N_SUB, 2, disc=disc, corrected=True)
    # ℓ = 2 covers the whole domain for N_H = 3: Σ_T Q_T is the global corrector Q, and
    # (1 − Q) u_H = Σ_i U_i (λ_i − Q λ_i) over the interior nodes, Q from the whole-grid solve.
    _, q = galerkin_lod_matrix(a, n_coarse, N_SUB)
    inner = coarse_interior(n_coarse, 3)
    lam = prolongation(n_coarse, N_SUB, 3).toarray()[:, inner]
    expected = (lam - q) @ result.u_coarse.ravel()[inner]
    assert np.abs(result.u_corrected.ravel() - expected).max() < 1e-10 * np.abs(expected).max()
    # ... and it is closer to u_h in energy than P u_H.
    _, u_fine = fine_solve(disc, a, "one", rtol=1e-13)
    corrected = metrics.energy_norm(u_fine - result.u_corrected, a)
    assert corrected < metrics.energy_error(u_fine, result.u_coarse, a)
    result.destroy()


@pytest.mark.mpi
def test_one_and_two_ranks_agree_in_3d():
    n_coarse = 3
    a = _coefficient("channels", n_coarse * N_SUB)
    world = pglod_solve(MPI.COMM_WORLD, a, n_coarse, N_SUB, ELL, rhs="x", corrected=True)
    single = pglod_solve(MPI.COMM_SELF, a, n_coarse, N_SUB, ELL, rhs="x", corrected=True)
    assert MPI.COMM_WORLD.size == 2 and world.elements.size < n_coarse**3
    scale = np.abs(single.u_coarse).max()
    assert np.abs(world.u_coarse - single.u_coarse).max() < 1e-13 * scale
    assert np.abs(world.u_corrected - single.u_corrected).max() < 1e-13 * scale
    world.destroy()
    single.destroy()


def test_cli_solves_a_3d_coefficient(tmp_path):
    import h5py

    n_coarse = 2
    a = _coefficient("iid", n_coarse * N_SUB, seed=1)
    np.save(tmp_path / "a.npy", a)
    out = tmp_path / "r.h5"
    cmd = solve_command(tmp_path / "a.npy", n_coarse, N_SUB, ELL, out)
    run = subprocess.run(
        cmd + ["--xdmf", str(tmp_path / "vis")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "3^3 nodes" in run.stdout
    with h5py.File(out, "r") as f:
        assert f.attrs["dim"] == 3
        assert f["u_coarse"].shape == (3, 3, 3) and f["u_fine"].shape == (5, 5, 5)
        expected = pglod_solve(MPI.COMM_SELF, a, n_coarse, N_SUB, ELL).u_coarse
        assert np.abs(f["u_coarse"][...] - expected).max() < 1e-14
        assert f["S_A"].attrs["shape"].tolist() == [27, 27]
        assert set(f["S_A/rows"][...]) == {13}  # the one interior node of the 3^3 grid
        assert f["errors"].attrs["energy_corrected_relative"] < f["errors"].attrs["energy_relative"]
    assert (tmp_path / "vis" / "u_coarse.xdmf").stat().st_size > 0
    bad = subprocess.run(cmd + ["--n-sub", "3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected (6, 6, 6)" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_fine_reference_that_does_not_fit_is_refused_up_front(monkeypatch):
    from lod_fenicsx import corrector
    from lod_fenicsx.reference import check_fine_memory

    monkeypatch.setattr(corrector, "_available_memory", lambda: 2**30)
    check_fine_memory(32, 3)  # 33^3 nodes, about 0.3 GiB: fits in 1 GiB
    with pytest.raises(ValueError, match=r"64\^3 cells needs about 2\.\d GiB.*--no-fine"):
        check_fine_memory(64, 3)
    check_fine_memory(512, 2)  # 2-D needs far less per node
