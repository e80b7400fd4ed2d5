"""PG-LOD end to end: coefficient checks, I_H, convergence in ℓ, rank-count independence, CLI."""

import subprocess

import numpy as np
import pytest
from helpers import solve_command
from mpi4py import MPI

from lod_fenicsx import metrics
from lod_fenicsx.assembly import to_structured_coo
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.q1 import q1_matrix, reference_element_matrices
from lod_fenicsx.interpolation import interpolation_matrix, prolongation
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.pglod import distributed_local_matrices, pglod_solve
from lod_fenicsx.reference import fine_solve


def _coefficient(n_fine, seed=0):
    return np.random.default_rng(seed).uniform(1.0, 5.0, (n_fine, n_fine))


# -- coefficient validation ------------------------------------------------------------------
def test_coefficient_messages():
    a = np.ones((8, 8))
    assert validate_coefficient(a, 4, 2).dtype == np.float64
    with pytest.raises(ValueError, match=r"shape \(8, 8\), expected \(12, 12\)"):
        validate_coefficient(a, 4, 3)
    bad = a.copy()
    bad[2, 5] = np.nan
    bad[6, 1] = np.inf
    with pytest.raises(
        ValueError, match=r"2 non-finite value\(s\).*first at \[iy, ix\] = \[2, 5\]"
    ):
        validate_coefficient(bad, 4, 2)
    bad = a.copy()
    bad[3, 0], bad[3, 4], bad[7, 7] = 0.0, -1.0, -2.0
    with pytest.raises(
        ValueError, match=r"3 non-positive value\(s\); first at \[iy, ix\] = \[3, 0\]"
    ):
        validate_coefficient(bad, 4, 2)
    # Validation happens before any solve.
    with pytest.raises(ValueError, match="non-positive"):
        pglod_solve(MPI.COMM_SELF, bad, 4, 2, 1)


# -- quasi-interpolation ---------------------------------------------------------------------
def test_interpolation_is_projection_onto_vh():
    n_coarse, n_sub = 5, 3
    i_h = interpolation_matrix(n_coarse, n_sub)
    p = prolongation(n_coarse, n_sub)
    u_h = np.random.default_rng(0).standard_normal((n_coarse + 1, n_coarse + 1))
    u_h[[0, -1], :] = 0
    u_h[:, [0, -1]] = 0
    assert np.abs(i_h @ (p @ u_h.ravel()) - u_h.ravel()).max() < 1e-13
    # n_z counts the elements of the whole domain: I_H of the constant 1 is 1 at interior nodes.
    one = i_h @ np.ones(p.shape[0])
    iy, ix = np.divmod(np.arange(one.size), n_coarse + 1)
    interior = (iy > 0) & (iy < n_coarse) & (ix > 0) & (ix < n_coarse)
    assert np.abs(one[interior] - 1).max() < 1e-13 and np.all(one[~interior] == 0)
    # A fine function is not reproduced, but I_H of I_H is I_H (projection).
    v = np.random.default_rng(1).standard_normal(p.shape[0])
    assert np.abs(i_h @ (p @ (i_h @ v)) - i_h @ v).max() < 1e-13


# -- metrics ---------------------------------------------------------------------------------
def test_metrics_exact_values():
    n = 4
    x = np.linspace(0, 1, n + 1)
    u = np.add.outer(np.zeros(n + 1), x)  # u = x, [iy, ix]
    assert abs(metrics.l2_norm(u) - np.sqrt(1 / 3)) < 1e-14
    assert abs(metrics.energy_norm(u, 2.0 * np.ones((n, n))) - np.sqrt(2.0)) < 1e-14
    a = np.random.default_rng(0).standard_normal((30, 30))
    assert abs(metrics.spectral_norm(a, a.T) - np.linalg.svd(a - a.T, compute_uv=False)[0]) < 1e-12
    assert (
        abs(metrics.spectral_norm(a, dense_limit=10) - np.linalg.svd(a, compute_uv=False)[0]) < 1e-8
    )


# -- convergence -----------------------------------------------------------------------------
def _coarse_fem(coefficient, n_coarse, n_sub):
    """Plain Q1 FEM on the coarse mesh with the fine coefficient integrated exactly, f = 1."""
    from scipy.sparse.linalg import spsolve

    k_ref, _ = reference_element_matrices()
    p = prolongation(n_coarse, n_sub)
    k_h = (p.T @ q1_matrix(coefficient, k_ref) @ p).tocsr()
    iy, ix = np.divmod(np.arange((n_coarse + 1) ** 2), n_coarse + 1)
    inner = np.flatnonzero((iy > 0) & (iy < n_coarse) & (ix > 0) & (ix < n_coarse))
    load = metrics.mass_matrix(n_coarse) @ np.ones((n_coarse + 1) ** 2)
    u = np.zeros((n_coarse + 1) ** 2)
    u[inner] = spsolve(k_h[inner][:, inner].tocsc(), load[inner])
    return u.reshape(n_coarse + 1, n_coarse + 1)


def test_convergence_in_ell_and_gain_over_fem():
    """‖I_H u_h − u_H‖ falls exponentially in ℓ (to the ℓ = ∞ error) and beats Q1 FEM ≥ 10x."""
    n_coarse, n_sub = 8, 4
    a = _coefficient(n_coarse * n_sub, seed=7)  # i.i.d. U[1, 5] on the fine cells
    comm = MPI.COMM_SELF
    disc = Discretization(comm, n_coarse, n_sub)
    _, u_fine = fine_solve(disc, a)
    ref = metrics.interpolated_l2_error(u_fine, np.zeros((n_coarse + 1,) * 2))
    u = {
        ell: pglod_solve(comm, a, n_coarse, n_sub, ell, disc=disc).u_coarse
        for ell in (1, 2, 3, n_coarse)
    }
    err = {ell: metrics.interpolated_l2_error(u_fine, u[ell]) / ref for ell in u}
    loc = {ell: metrics.coarse_l2_error(u[ell], u[n_coarse]) / ref for ell in (1, 2, 3)}
    fem = metrics.interpolated_l2_error(u_fine, _coarse_fem(a, n_coarse, n_sub)) / ref
    # Localisation error: geometric decay, factor < 0.3 per layer.
    assert loc[2] < 0.3 * loc[1] and loc[3] < 0.3 * loc[2]
    # Total error: its excess over the ℓ = ∞ (ideal LOD, H^2-type) error decays geometrically
    # (seed 7: 9.1e-3, 2.9e-3, 2.8e-3 -> 2.78e-3 relative; Q1 FEM 6.3e-2).
    excess = {ell: err[ell] - err[n_coarse] for ell in (1, 2, 3)}
    assert min(excess.values()) > 0
    assert excess[2] < 0.3 * excess[1] and excess[3] < 0.3 * excess[2]
    assert err[2] * 10 < fem
    # The corrected fine function (1 − Q^ℓ) u_H: I_H recovers u_H exactly, and its energy error
    # is far below that of the bilinear P u_H (seed 7: 0.076 vs 0.28 relative).
    res = pglod_solve(comm, a, n_coarse, n_sub, 2, disc=disc, corrected=True)
    i_h = interpolation_matrix(n_coarse, n_sub)
    assert np.abs(i_h @ res.u_corrected.ravel() - res.u_coarse.ravel()).max() < 1e-12
    energy = metrics.energy_norm(u_fine, a)
    corrected = metrics.energy_norm(u_fine - res.u_corrected, a) / energy
    assert (
        corrected < 0.1 and corrected < 0.4 * metrics.energy_error(u_fine, res.u_coarse, a) / energy
    )


# -- MPI ---------------------------------------------------------------------------------------
def _dense_s_a(result, n_coarse):
    rows, cols, vals = to_structured_coo(
        result.matrix, result.discretization.coarse_layout, root=None
    )
    out = np.zeros(((n_coarse + 1) ** 2,) * 2)
    np.add.at(out, (rows, cols), vals)
    return out


@pytest.mark.mpi
def test_one_and_two_ranks_agree():
    n_coarse, n_sub, ell = 6, 3, 2
    a = _coefficient(n_coarse * n_sub, seed=11)
    world = pglod_solve(MPI.COMM_WORLD, a, n_coarse, n_sub, ell, rhs="sine")
    single = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="sine")
    s_world, s_single = _dense_s_a(world, n_coarse), _dense_s_a(single, n_coarse)
    assert MPI.COMM_WORLD.size == 2
    assert np.abs(s_world - s_single).max() < 1e-13 * np.abs(s_single).max()
    assert np.abs(world.u_coarse - single.u_coarse).max() < 1e-13 * np.abs(single.u_coarse).max()
    # The distributed helper returns every element's matrix, identical to a serial run.
    mine, local, every = distributed_local_matrices(
        MPI.COMM_WORLD, a, n_coarse, n_sub, ell, root=None
    )
    serial = PatchSolver(n_coarse, n_sub, ell).local_matrices(a)
    assert mine.size < n_coarse**2 and every.shape == serial.shape
    assert np.abs(every - serial).max() < 1e-13 * np.abs(serial).max()


# -- command line ------------------------------------------------------------------------------
def test_cli_writes_documented_hdf5(tmp_path):
    import h5py

    n_coarse, n_sub, ell = 4, 2, 1
    a = _coefficient(n_coarse * n_sub, seed=3)
    np.save(tmp_path / "a.npy", a)
    out = tmp_path / "r.h5"
    cmd = solve_command(tmp_path / "a.npy", n_coarse, n_sub, ell, out)
    run = subprocess.run(
        cmd + ["--xdmf", str(tmp_path / "vis")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "vis" / "u_coarse.xdmf").stat().st_size > 0
    assert (tmp_path / "vis" / "u_fine.xdmf").stat().st_size > 0
    with h5py.File(out, "r") as f:
        assert (
            f["u_coarse"].shape == (5, 5)
            and f["u_fine"].shape == (9, 9)
            and f["load"].shape == (5, 5)
        )
        expected = pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell).u_coarse
        assert np.abs(f["u_coarse"][...] - expected).max() < 1e-14
        rows, cols = f["S_A/rows"][...], f["S_A/cols"][...]
        assert rows.min() >= 6 and cols.max() <= 18  # interior nodes of the 5 x 5 grid
        assert set(f["errors"].attrs) >= {"l2_fine", "l2_coarse", "energy"}
        assert f["timings"].attrs["local_matrices"] > 0
    bad = subprocess.run(cmd + ["--n-sub", "3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected (12, 12)" in bad.stderr


def test_read_coefficient_from_hdf5(tmp_path):
    import h5py

    from lod_fenicsx.__main__ import read_coefficient

    a = _coefficient(8)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["coefficient"] = a
        f["other"] = np.ones((4, 4))
    assert np.array_equal(read_coefficient(str(tmp_path / "c.h5")), a)
    assert np.array_equal(read_coefficient(str(tmp_path / "c.h5"), "other"), np.ones((4, 4)))
    with pytest.raises(ValueError, match="does not exist"):
        read_coefficient(str(tmp_path / "missing.npy"))
