"""Discrete losses of Sec. 3.1/4.4: the PINN residual J on M collocation points, K~[v], the moving
average (59)-(60) and the coupling term R_delta in its two forms (11) and (16).

All functions act on the last axis, so a leading member axis (one row per seed, see
``hybrid_pinn.network``) passes through: J, K~ and R_delta come out with one value per member.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .problem import k_eps, k_eps_dx, source_q

__all__ = [
    "COUPLINGS",
    "collocation_points",
    "derivatives",
    "pinn_residual",
    "pinn_loss",
    "k_tilde",
    "moving_average_matrix",
    "coupling_loss",
]

# The two coupling terms: (11) ||Qbar v - y||^2, used for Table 2 (Sec. 4.4: its adjoint right-hand
# side is 2 tau_2 (P_h[theta] - M_h y_h)); (16) ||Qbar v - Qbar y||^2, for coarse states outside
# H^2 (Sec. 2.3, the piecewise-constant K~ of Sec. 4.3).
COUPLINGS = ("11", "16")


def collocation_points(n_collocation: int, dtype=torch.float32) -> torch.Tensor:
    """M equidistant points (i - 1/2)/M, shape (M,): the uniform weights 1/M then form the
    midpoint rule."""
    if int(n_collocation) != n_collocation or n_collocation < 2:
        raise ValueError(
            f"the number of collocation points M must be an integer >= 2, got {n_collocation!r}"
        )
    m = int(n_collocation)
    return (torch.arange(m, dtype=dtype) + 0.5) / m


def derivatives(net, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """v, v', v'' of a single network at the points x by automatic differentiation
    (double backward).

    The reference for ``network.jet``, which the training uses; kept differentiable in theta.
    """
    x = x.detach().requires_grad_(True)
    v = net(x)
    (dv,) = torch.autograd.grad(v.sum(), x, create_graph=True)
    (d2v,) = torch.autograd.grad(dv.sum(), x, create_graph=True)
    return v, dv.reshape(v.shape), d2v.reshape(v.shape)


def pinn_residual(dv: torch.Tensor, d2v: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Strong residual -(K v')' - f = -K' v' - K v'' - q - K' of problem (57)."""
    k, dk = k_eps(x, eps), k_eps_dx(x, eps)
    return -dk * dv - k * d2v - source_q(x) - dk


def pinn_loss(residual: torch.Tensor) -> torch.Tensor:
    """J = ||A v - f||^2_{H_M} with the uniform quadrature weights 1/M (per member)."""
    return torch.mean(residual**2, dim=-1)


def k_tilde(dv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """K~[v] = int_0^1 K_eps (v' + 1) dx by the same uniform quadrature (Sec. 4.4), per member."""
    return torch.mean(k_eps(x, eps) * (dv + 1.0), dim=-1)


def moving_average_matrix(nodes: np.ndarray, window: int, delta: float) -> np.ndarray:
    """Matrix of the compression Qbar_delta^D, eqs. (59)-(60), on sorted FE nodes.

    Row i averages the nodes j with |j - i| <= window (those that exist) when
    x_i in [delta/2, 1 - delta/2], and is the identity row otherwise.
    """
    nodes = np.asarray(nodes, dtype=float)
    if int(window) != window or window < 0:
        raise ValueError(
            f"the moving-average window omega_av must be an integer >= 0, got {window!r}"
        )
    if window >= len(nodes):
        raise ValueError(
            f"window omega_av = {window} must be smaller than the number of FE nodes {len(nodes)}"
        )
    if not (math.isfinite(delta) and 0.0 <= delta < 1.0):
        raise ValueError(f"delta must lie in [0, 1), got {delta!r}")
    n = len(nodes)
    index = np.arange(n)
    in_window = np.abs(np.subtract.outer(index, index)) <= window
    averaging = in_window / in_window.sum(axis=1, keepdims=True)
    interior = (nodes >= delta / 2) & (nodes <= 1.0 - delta / 2)
    return np.where(interior[:, None], averaging, np.eye(n))


def coupling_loss(
    v_nodes: torch.Tensor,
    y_nodes: torch.Tensor,
    average: torch.Tensor,
    mass: torch.Tensor,
    tau2: float,
    form: str = "11",
) -> torch.Tensor:
    """R_delta = tau_2 ||g||^2_{L^2}, the L^2 norm of the P1 interpolant of the nodal gap g.

    ``form="11"``: g = Qbar v - y_h, eq. (11); ``form="16"``: g = Qbar (v - y_h), eq. (16).
    ``average`` is Qbar (``moving_average_matrix``), ``mass`` the P1 mass matrix M_h.
    """
    if form == "11":
        gap = v_nodes @ average.T - y_nodes
    elif form == "16":
        gap = (v_nodes - y_nodes) @ average.T
    else:
        raise ValueError(f"unknown coupling term {form!r}; use '11' (eq. 11) or '16' (eq. 16)")
    return tau2 * torch.sum(gap * (gap @ mass), dim=-1)
