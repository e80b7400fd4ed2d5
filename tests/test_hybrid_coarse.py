"""Coarse problem (48) and its adjoint (26)-(29): gradcheck, Taylor test, closed-form state."""

import numpy as np
import pytest
import torch

from hybrid_pinn.coarse import COARSE_SOLVERS, CoarseProblem, coarse_state
from hybrid_pinn.losses import (
    collocation_points,
    coupling_loss,
    derivatives,
    k_tilde,
    moving_average_matrix,
)
from hybrid_pinn.network import HardDirichlet, MultiscaleFourierNet
from hybrid_pinn.training import limit_threads

EPS = 1.0 / 4.0


@pytest.fixture(scope="module", params=COARSE_SOLVERS)
def problem(request):
    """Every test of the state and the adjoint runs on both solvers (DOLFINx + PETSc, SciPy)."""
    limit_threads(1)
    return CoarseProblem(12, solver=request.param)


@pytest.mark.parametrize("solver", COARSE_SOLVERS)
@pytest.mark.parametrize("reading, n_nodes", [("nodes", 12), ("cells", 13)])
def test_state_is_nodally_exact(reading, n_nodes, solver):
    """P1 in 1-D is nodally exact for -(K y')' = q: y = (x^3 - 1.5 x^2 + 0.5 x) / K~, on either
    reading of N_h = 12 (12 nodes, h = 1/11; or 12 cells, h = 1/12)."""
    problem = CoarseProblem(12, mesh_reading=reading, solver=solver)
    x = problem.nodes
    assert len(x) == n_nodes and np.allclose(np.diff(x), 1.0 / (n_nodes - 1))
    y = coarse_state(torch.tensor(0.7, dtype=torch.float64), problem).numpy()
    assert np.max(np.abs(y - (x**3 - 1.5 * x**2 + 0.5 * x) / 0.7)) < 1e-13
    problem.destroy()


def test_one_state_per_member(problem):
    """K~ of shape (S,) gives S states y_h(K~_s); the adjoint carries one gradient per member."""
    k = torch.tensor([0.7, 0.9, 1.3], dtype=torch.float64, requires_grad=True)
    y = coarse_state(k, problem)
    assert y.shape == (3, 12)
    assert torch.allclose(y[1], coarse_state(torch.tensor(0.9, dtype=torch.float64), problem))
    assert torch.autograd.gradcheck(lambda k: coarse_state(k, problem), (k,), eps=1e-6, atol=1e-9)


def test_adjoint_gradcheck_state(problem):
    k = torch.tensor(0.83, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: coarse_state(k, problem), (k,), eps=1e-6, atol=1e-9)


def _reduced_objective(problem, form):
    """theta -> J^{M,h}(theta) restricted to the coupling term (11) or (16),
    for a small float64 network."""
    body = MultiscaleFourierNet(
        (1.0, 4.0), n_features=3, depth=1, width=6, generator=torch.Generator().manual_seed(3)
    )
    net = HardDirichlet(body).double()
    x = collocation_points(40, torch.float64)
    average = torch.as_tensor(moving_average_matrix(problem.nodes, 1, EPS))
    mass = torch.as_tensor(problem.mass)
    x_coarse = torch.as_tensor(problem.nodes)
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def objective(theta):
        params, start = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape))
            params[name] = theta[start : start + size].reshape(shape)
            start += size
        call = lambda z: torch.func.functional_call(net, params, (z,))[0]  # noqa: E731
        _, dv, _ = derivatives(call, x)
        y = coarse_state(k_tilde(dv, x, EPS), problem)
        return coupling_loss(call(x_coarse), y, average, mass, tau2=10.0, form=form)

    return objective, theta0


@pytest.mark.parametrize("form", ["11", "16"])
def test_reduced_gradient_gradcheck(problem, form):
    """The whole chain theta -> K~ -> y_h (adjoint) -> R_delta against finite differences."""
    objective, theta0 = _reduced_objective(problem, form)
    theta = theta0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(objective, (theta,), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("form", ["11", "16"])
def test_reduced_gradient_taylor_rate(problem, form):
    """|J(theta + h d) - J(theta) - h <grad J, d>| = O(h^2): observed rate 2 +- 0.1."""
    objective, theta0 = _reduced_objective(problem, form)
    theta = theta0.clone().requires_grad_(True)
    value = objective(theta)
    (gradient,) = torch.autograd.grad(value, theta)
    direction = torch.randn(
        theta0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    steps = [1e-2 / 2**i for i in range(5)]
    remainders = [
        abs(
            objective(theta0 + h * direction).item()
            - value.item()
            - h * (gradient @ direction).item()
        )
        for h in steps
    ]
    rates = np.log2(np.array(remainders[:-1]) / np.array(remainders[1:]))
    assert np.all(np.abs(rates - 2.0) < 0.1), rates


def test_non_coercive_state_is_refused(problem):
    with pytest.raises(ValueError, match="K~ > 0"):
        coarse_state(torch.tensor(-0.1, dtype=torch.float64), problem)


def test_bad_node_count_and_reading():
    with pytest.raises(ValueError, match="N_h"):
        CoarseProblem(2)
    with pytest.raises(ValueError, match="coarse mesh reading"):
        CoarseProblem(12, mesh_reading="elements")
    with pytest.raises(ValueError, match="unknown coarse solver 'mumps'"):
        CoarseProblem(12, solver="mumps")


@pytest.mark.parametrize("reading", ["nodes", "cells"])
def test_scipy_and_petsc_coarse_problems_agree(reading):
    """The closed-form matrices equal DOLFINx's assembly: nodes, M_h, F_h (through the state),
    A_h y and the adjoint solve, at Table 1's N_h = 50."""
    petsc = CoarseProblem(50, mesh_reading=reading)
    scipy = CoarseProblem(50, mesh_reading=reading, solver="scipy")
    y = np.random.default_rng(0).normal(size=petsc.n_nodes)
    assert np.abs(petsc.nodes - scipy.nodes).max() < 1e-15
    assert np.abs(petsc.mass - scipy.mass).max() < 1e-14 * np.abs(petsc.mass).max()
    state = petsc.solve_state(0.83)
    assert np.abs(state - scipy.solve_state(0.83)).max() < 1e-13 * np.abs(state).max()
    assert np.abs(petsc.stiffness_times(y) - scipy.stiffness_times(y)).max() < 1e-12
    adjoint = petsc.solve_adjoint(0.83, y)
    assert np.abs(adjoint - scipy.solve_adjoint(0.83, y)).max() < 1e-13 * np.abs(adjoint).max()
    assert adjoint[0] == adjoint[-1] == 0.0
    petsc.destroy()
