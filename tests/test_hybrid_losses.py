"""Losses of Sec. 4.4: moving average (59)-(60), K~ quadrature, residual of the exact solution."""

import numpy as np
import pytest
import torch

from hybrid_pinn.coarse import CoarseProblem
from hybrid_pinn.losses import (
    COMPRESSIONS,
    EXACT_POINTS,
    collocation_points,
    compression_operator,
    coupling_loss,
    coupling_matrix,
    k_tilde,
    moving_average_matrix,
    pinn_loss,
    pinn_residual,
)
from hybrid_pinn.problem import exact_k_tilde, exact_solution, k_eps, k_eps_dx, source_f, source_q
from hybrid_pinn.reference import fine_reference


def test_moving_average_constants_and_linears():
    nodes = np.linspace(0.0, 1.0, 50)
    window, delta = 3, 1.0 / 16.0
    Q = moving_average_matrix(nodes, window, delta)
    assert np.max(np.abs(Q @ np.full(50, 2.5) - 2.5)) < 1e-14
    # A symmetric window is exact on linears; rows whose window is cut by the boundary are not.
    full = np.arange(window, 50 - window)
    linear = 3.0 * nodes - 1.0
    assert np.max(np.abs((Q @ linear)[full] - linear[full])) < 1e-14
    # Eq. (60): identity near the ends, an average of 2*window + 1 nodes inside.
    assert np.allclose(Q[0], np.eye(50)[0])
    assert np.isclose(Q[25, 25], 1.0 / 7.0) and np.count_nonzero(Q[25]) == 7


def test_moving_average_removes_a_resolved_oscillation():
    nodes = np.linspace(0.0, 1.0, 49)  # h = 1/48, a window of 2*3+1 nodes spans...
    Q = moving_average_matrix(nodes, 3, 7.0 / 48.0)  # ... exactly one period 7/48
    wave = np.sin(2 * np.pi * nodes * 48 / 7)
    inner = (nodes >= 7 / 96) & (nodes <= 1 - 7 / 96) & (np.arange(49) >= 3) & (np.arange(49) <= 45)
    assert np.max(np.abs((Q @ wave)[inner])) < 1e-12


@pytest.mark.parametrize(
    "window, delta", [(-1, 0.1), (1.5, 0.1), (50, 0.1), (2, float("nan")), (2, 1.0)]
)
def test_moving_average_rejects_bad_input(window, delta):
    with pytest.raises(ValueError):
        moving_average_matrix(np.linspace(0, 1, 50), window, delta)


def test_k_tilde_of_exact_solution_converges_to_five_sixths():
    """K~[u] = 5/6 for 1/eps integer; the uniform (midpoint) rule converges at second order."""
    eps = 1.0 / 16.0
    assert abs(exact_k_tilde(eps) - 5.0 / 6.0) < 1e-14
    errors = []
    for m in (100, 200, 400, 800):
        x = collocation_points(m, torch.float64).reshape(-1).numpy()
        # u' + 1 from the flux (3x^2 - 3x + 4/3) / K_eps
        du = (3 * x**2 - 3 * x + 4.0 / 3.0) / k_eps(x, eps) - 1.0
        value = k_tilde(torch.as_tensor(du), torch.as_tensor(x), eps).item()
        errors.append(abs(value - 5.0 / 6.0))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-5 and np.all(rates > 1.9), (errors, rates)


def test_residual_of_exact_solution_is_small():
    eps = 1.0 / 8.0
    x = torch.linspace(0.01, 0.99, 300, dtype=torch.float64)
    h = 1e-4
    u = lambda s: torch.as_tensor(exact_solution(s.numpy(), eps))
    du = (u(x + h) - u(x - h)) / (2 * h)
    d2u = (u(x + h) - 2 * u(x) + u(x - h)) / h**2
    residual = pinn_residual(du, d2u, x, eps)
    assert residual.abs().max().item() < 1e-3 * k_eps(x, eps).max().item() * 2 * np.pi / eps


def test_pinn_loss_barely_sees_a_smooth_flux_error():
    """Why Ms-PINN errors of O(1) coexist with J ~ 1 (demos/results/hybrid_1d/README.md).

    Perturb the exact flux F = 3x^2 - 3x + 4/3 by a smooth delta = a (x - c0), keeping the
    oscillation locked to it: v' + 1 = (F + delta)(1.2 + sin wx), c0 such that v(1) = 0. The
    residual is then -a at every point, so J = a^2, while v - u is a smooth bump of relative
    L^2 size 2.50 |a| at eps = 1/16: a relative error of 1 costs J = 0.16, against J = 4.7e4
    for v = 0. The paper's 0.034 needs J below about 2e-4 in this mode.
    """
    eps, a = 1.0 / 16.0, 0.3
    w = 2 * np.pi / eps
    c0 = 0.5 - 1.0 / (1.2 * w)
    x = collocation_points(280, torch.float64).reshape(-1)
    flux, dflux = 3 * x**2 - 3 * x + 4.0 / 3.0 + a * (x - c0), 6 * x - 3 + a
    dv = flux * (1.2 + torch.sin(w * x)) - 1.0
    d2v = dflux * (1.2 + torch.sin(w * x)) + flux * w * torch.cos(w * x)
    residual = pinn_residual(dv, d2v, x, eps)
    assert torch.allclose(residual, torch.full_like(residual, -a), atol=1e-9)
    nodes = np.linspace(0.0, 1.0, 1000)
    error = a * (
        1.2 * (nodes**2 / 2 - c0 * nodes)
        - (nodes - c0) * np.cos(w * nodes) / w
        + np.sin(w * nodes) / w**2
        - c0 / w
    )  # v - u in closed form
    assert abs(error[-1]) < 1e-15
    relative = np.linalg.norm(error) / np.linalg.norm(exact_solution(nodes, eps))
    assert abs(relative / a - 2.495) < 1e-3
    j_zero = pinn_loss(pinn_residual(torch.zeros_like(x), torch.zeros_like(x), x, eps)).item()
    assert 4.7e4 < j_zero < 4.8e4  # v = 0: the residual is -q - K_eps'


@pytest.mark.parametrize("alpha", [-2.4, 0.5])
def test_scaled_flux_family_costs_three_alpha_minus_one_squared(alpha):
    """Where the Ms-PINN sits at eps = 1/48 (README, "why eps = 1/48"): the flux
    G = C0 + alpha (F - C0), C0 = 1/1.2, keeps the oscillation locked to it,
    v' + 1 = G (1.2 + sin wx), and gives v = alpha u + (1 - alpha) C0 (1 - cos wx) / w, whose
    smooth part is alpha times u's. Its residual is (alpha - 1) q at every point, so
    J = 3 (alpha - 1)^2 (the mean of q^2 = 9 (2x - 1)^2), while the relative L^2 error is
    0.994 |alpha - 1|: alpha = -2.4 (the state after ~100 Adam steps) costs J = 35."""
    eps = 1.0 / 48.0
    w, c0 = 2 * np.pi / eps, 1.0 / 1.2
    x = collocation_points(840, torch.float64).reshape(-1)
    flux, dflux = 3 * x**2 - 3 * x + 4.0 / 3.0, 6 * x - 3
    g, dg = c0 + alpha * (flux - c0), alpha * dflux
    dv = g * (1.2 + torch.sin(w * x)) - 1.0
    d2v = dg * (1.2 + torch.sin(w * x)) + g * w * torch.cos(w * x)
    residual = pinn_residual(dv, d2v, x, eps)
    assert torch.allclose(residual, (alpha - 1.0) * source_q(x), atol=1e-9)
    assert abs(pinn_loss(residual).item() / (3.0 * (alpha - 1.0) ** 2) - 1.0) < 1e-5
    nodes = np.linspace(0.0, 1.0, 1000)
    u = exact_solution(nodes, eps)
    v = alpha * u + (1.0 - alpha) * c0 * (1.0 - np.cos(w * nodes)) / w
    assert abs(v[0]) < 1e-15 and abs(v[-1]) < 1e-12
    relative = np.linalg.norm(v - u) / np.linalg.norm(u)
    assert abs(relative / abs(alpha - 1.0) - 0.994) < 1e-3


@pytest.mark.parametrize("m", [0, 1, 2.5])
def test_collocation_points_reject_bad_m(m):
    with pytest.raises(ValueError, match="collocation"):
        collocation_points(m)


@pytest.mark.parametrize("form", ["11", "16"])
def test_coupling_gradient_in_y_is_the_adjoint_rhs(form):
    """dR/dy_h = -2 tau_2 M_h (Qbar v - y_h) for (11), the rhs of (29) in Sec. 4.4, and
    -2 tau_2 Qbar^T M_h Qbar (v - y_h) for (16)."""
    problem = CoarseProblem(20)
    Q = torch.as_tensor(moving_average_matrix(problem.nodes, 2, 0.2))
    M = torch.as_tensor(problem.mass)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(20, dtype=torch.float64, generator=g)
    y = torch.randn(20, dtype=torch.float64, generator=g).requires_grad_(True)
    coupling_loss(v, y, Q, M, 3.0, form).backward()
    expected = -6.0 * (M @ (Q @ v - y.detach()) if form == "11" else Q.T @ M @ Q @ (v - y.detach()))
    assert torch.allclose(y.grad, expected, atol=1e-12)
    problem.destroy()


def test_the_two_couplings_differ_by_the_averaged_state():
    """(11) and (16) agree when Qbar y_h = y_h (window 0) and differ once Qbar moves y_h."""
    problem = CoarseProblem(20)
    M = torch.as_tensor(problem.mass)
    x = torch.as_tensor(problem.nodes)
    v, y = torch.sin(3 * x), 4 * x * (1 - x) ** 3
    same = [
        coupling_loss(v, y, torch.eye(20, dtype=torch.float64), M, 1.0, f).item()
        for f in ("11", "16")
    ]
    Q = torch.as_tensor(moving_average_matrix(problem.nodes, 3, 0.2))
    apart = [coupling_loss(v, y, Q, M, 1.0, f).item() for f in ("11", "16")]
    assert abs(same[0] - same[1]) < 1e-14 and abs(apart[0] - apart[1]) > 1e-4
    with pytest.raises(ValueError, match="coupling"):
        coupling_loss(v, y, Q, M, 1.0, "12")
    problem.destroy()


def test_problem_57_is_one_formula_for_numpy_torch_and_ufl():
    """k_eps, k_eps_dx, q and f evaluate the same numbers on NumPy, torch and a UFL coordinate
    (the network losses, the fine reference and the coarse load all use these functions)."""
    import ufl
    from dolfinx import fem, mesh
    from mpi4py import MPI

    eps = 1.0 / 16.0
    x = np.linspace(0.0, 1.0, 7)
    for fn in (
        lambda z: k_eps(z, eps),
        lambda z: k_eps_dx(z, eps),
        source_q,
        lambda z: source_f(z, eps),
    ):
        assert np.allclose(fn(torch.as_tensor(x)).numpy(), fn(x), rtol=1e-14)
    domain = mesh.create_unit_interval(MPI.COMM_SELF, 4)
    z = ufl.SpatialCoordinate(domain)[0]
    V = fem.functionspace(domain, ("Lagrange", 1))
    expr = fem.Expression(source_f(z, eps), V.element.interpolation_points())
    u = fem.Function(V)
    u.interpolate(expr)
    nodes = V.tabulate_dof_coordinates()[:, 0]
    assert np.allclose(u.x.array, source_f(nodes, eps), rtol=1e-12)


def test_fine_reference_matches_closed_form():
    """P1 on 1000 nodes vs the exact u: relative L^2 error below 1e-3 at eps = 1/16
    (measured 4.0e-4)."""
    reference = fine_reference(1.0 / 16.0, 1000)
    exact = exact_solution(reference.nodes, 1.0 / 16.0)
    assert np.linalg.norm(reference.values - exact) / np.linalg.norm(exact) < 1e-3
    assert abs(reference.k_tilde - 5.0 / 6.0) < 1e-3


@pytest.mark.parametrize("inverse", [16, 48, 64])
def test_scipy_reference_equals_the_dolfinx_one(inverse):
    """The hand-assembled P1 system (same Gauss rule) gives DOLFINx's u_h to 1e-10 relative and
    its K~[u_h] to 1e-13 (measured: 2e-12 and 4e-15)."""
    petsc = fine_reference(1.0 / inverse, 1000)
    scipy = fine_reference(1.0 / inverse, 1000, solver="scipy")
    assert np.abs(petsc.nodes - scipy.nodes).max() < 1e-15
    scale = np.abs(petsc.values).max()
    assert np.abs(petsc.values - scipy.values).max() < 1e-10 * scale
    assert abs(petsc.k_tilde - scipy.k_tilde) < 1e-13
    with pytest.raises(ValueError, match="unknown reference solver 'lu'"):
        fine_reference(1.0 / inverse, 1000, solver="lu")


def test_compressed_exact_solution_is_not_the_coarse_state():
    """Qbar u != y_h: the coupling (11) does not vanish at the exact solution, so J + R_delta is
    minimised away from u by an amount that grows with tau_2. With Table 1's N_h and omega_av
    (N_h nodes), ||Qbar u - y_h|| / ||y_h|| = 0.325, 0.107, 0.080 at eps = 1/16, 1/48, 1/64
    (y_h with K~ = 5/6): the gap shrinks with eps, as Theorem 2.2 says."""
    from hybrid_pinn.training import TABLE_1

    gaps = []
    for inv in (16, 48, 64):
        problem = CoarseProblem(TABLE_1[inv]["n_coarse"])
        Q = moving_average_matrix(problem.nodes, TABLE_1[inv]["window"], 1.0 / inv)
        y = problem.solve_state(5.0 / 6.0)
        gaps.append(
            np.linalg.norm(Q @ exact_solution(problem.nodes, 1.0 / inv) - y) / np.linalg.norm(y)
        )
        problem.destroy()
    assert np.allclose(gaps, [0.3253, 0.1074, 0.0803], atol=1e-3), gaps


def test_the_compression_readings_on_a_linear_and_one_period():
    """(59) cuts its window off near the ends, so it misses a linear function there (by half a
    cell times the slope at x_2, eps = 1/16 and N_h = 50 nodes); the centred window and the
    exact mean (10) do not. The exact mean over [x - delta/2, x + delta/2] also removes one
    period of delta to round-off."""
    nodes = np.linspace(0.0, 1.0, 50)
    h, delta = nodes[1], 1.0 / 16.0
    linear = 3.0 * nodes - 1.0
    cut, centred, exact = (compression_operator(nodes, 3, delta, r) for r in COMPRESSIONS)
    assert (cut.matrix @ linear)[2] - linear[2] == pytest.approx(1.5 * h, abs=1e-14)
    assert np.max(np.abs(centred.matrix @ linear - linear)) < 1e-14
    x = exact.points
    assert len(x) == 50 + 46 * EXACT_POINTS  # 46 nodes in [delta/2, 1 - delta/2]
    assert np.max(np.abs(exact.matrix @ (3.0 * x - 1.0) - linear)) < 1e-14
    inner = (nodes >= delta / 2) & (nodes <= 1 - delta / 2)
    wave = np.sin(2 * np.pi * x / delta + 0.3)
    assert np.max(np.abs((exact.matrix @ wave)[inner])) < 1e-14
    at_nodes = np.sin(2 * np.pi * nodes / delta + 0.3)
    assert np.allclose((exact.matrix @ wave)[~inner], at_nodes[~inner])
    # the hat functions take a P1 function (nodal values) to the points
    assert np.max(np.abs(exact.interpolation @ linear - (3.0 * x - 1.0))) < 1e-14
    with pytest.raises(ValueError, match="compression"):
        compression_operator(nodes, 3, delta, "gauss")


def test_the_nodal_norm_is_the_trapezoidal_rule_and_j_sum_is_m_times_the_mean():
    problem = CoarseProblem(11)
    lumped = coupling_matrix(problem.mass, "nodal")
    assert np.allclose(np.diag(lumped), [0.05] + [0.1] * 9 + [0.05], atol=1e-14)
    assert np.count_nonzero(lumped - np.diag(np.diag(lumped))) == 0
    assert np.array_equal(coupling_matrix(problem.mass, "mass"), problem.mass)
    ones = np.ones(11)
    assert ones @ lumped @ ones == pytest.approx(ones @ problem.mass @ ones, abs=1e-14)
    problem.destroy()
    r = torch.arange(1.0, 6.0)
    assert pinn_loss(r, "sum").item() == pytest.approx(5 * pinn_loss(r).item()) == 55.0
    with pytest.raises(ValueError, match="norm"):
        coupling_matrix(np.eye(3), "h1")
    with pytest.raises(ValueError, match="quadrature"):
        pinn_loss(r, "max")
