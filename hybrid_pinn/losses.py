"""Discrete losses of Sec. 3.1/4.4: the PINN residual J on M collocation points, K~[v], the
compression Qbar_delta (the moving average (59)-(60), or (10) itself) and the coupling term
R_delta in its two forms (11) and (16), in the L^2 norm of the coarse space or the nodal one.

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
    "COMPRESSIONS",
    "COUPLING_NORMS",
    "PINN_QUADRATURES",
    "Compression",
    "compression_operator",
    "coupling_matrix",
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

# Readings of Qbar_delta (``compression_operator``): "nodes", the moving average (59) over the
# FE nodes j with |j - i| <= omega_av that exist (the window cut off near the ends), identity
# outside [delta/2, 1 - delta/2] (60); "centred", the same with the window shrunk to the nodes on
# both sides ((59) calls V_delta^D "centered around x_i"); "exact", the operator (10) itself, the
# mean of v over [x - delta/2, x + delta/2], of which (59) is called an approximation.
COMPRESSIONS = ("nodes", "centred", "exact")
# Points per window of the "exact" reading's midpoint rule. With delta = eps the window is one
# period of K_eps; the rule integrates harmonics 1..15 of it exactly, and u's 16th harmonic is
# 0.537^16 = 5e-5 of the first (minimiser.HARMONICS).
EXACT_POINTS = 16
# Readings of the norm of R_delta (``coupling_matrix``): "mass", the L^2 norm of the P1 function
# (Sec. 4.4: the adjoint right-hand side 2 tau_2 (P_h - M_h y_h)); "nodal", the discrete
# ||.||_{H_h} of Sec. 3.1, a weighted sum over the FE nodes, with the trapezoidal weights
# (the lumped M_h).
COUPLING_NORMS = ("mass", "nodal")
# Readings of J's quadrature weights (``pinn_loss``): "mean", 1/M, the uniform quadrature rule of
# int_0^1 (Sec. 4.4; K~ is written with 1/M); "sum", weight 1 at every point (Sec. 3.1 leaves the
# weights w_i^r open). "sum" is J times M, i.e. tau_2 / M under "mean".
PINN_QUADRATURES = ("mean", "sum")


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


def pinn_loss(residual: torch.Tensor, quadrature: str = "mean") -> torch.Tensor:
    """J = ||A v - f||^2_{H_M} with the uniform weights 1/M (``"mean"``) or 1 (``"sum"``),
    per member."""
    if quadrature == "mean":
        return torch.mean(residual**2, dim=-1)
    if quadrature == "sum":
        return torch.sum(residual**2, dim=-1)
    raise ValueError(f"unknown PINN quadrature {quadrature!r}; use one of {PINN_QUADRATURES}")


def k_tilde(dv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """K~[v] = int_0^1 K_eps (v' + 1) dx by the same uniform quadrature (Sec. 4.4), per member."""
    return torch.mean(k_eps(x, eps) * (dv + 1.0), dim=-1)


def moving_average_matrix(
    nodes: np.ndarray, window: int, delta: float, centred: bool = False
) -> np.ndarray:
    """Matrix of the compression Qbar_delta^D, eqs. (59)-(60), on sorted FE nodes.

    Row i averages the nodes j with |j - i| <= window (those that exist; ``centred``: with
    |j - i| <= min(window, i, n - 1 - i), the window shrunk to stay centred on x_i) when
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
    half = np.minimum(window, np.minimum(index, n - 1 - index)) if centred else window
    in_window = np.abs(np.subtract.outer(index, index)) <= np.reshape(half, (-1, 1))
    averaging = in_window / in_window.sum(axis=1, keepdims=True)
    interior = (nodes >= delta / 2) & (nodes <= 1.0 - delta / 2)
    return np.where(interior[:, None], averaging, np.eye(n))


class Compression:
    """Qbar_delta as a matrix on values at points: (Qbar v)(x_i) = ``matrix`` @ v(``points``) at
    the FE nodes x_i, and ``interpolation`` @ y the P1 function y (nodal values) at ``points``
    (what coupling (16) averages).

    ``reading`` is one of ``COMPRESSIONS``; the "nodes" and "centred" readings take the points
    to be the nodes themselves (``interpolation`` the identity) and average omega_av = ``window``
    nodes on each side (a window of about 2 delta); the "exact" one averages over delta itself,
    as (10) does, and does not use ``window``."""

    def __init__(self, nodes: np.ndarray, window: int, delta: float, reading: str = "nodes"):
        if reading not in COMPRESSIONS:
            raise ValueError(f"unknown compression {reading!r}; use one of {COMPRESSIONS}")
        nodes = np.asarray(nodes, dtype=float)
        self.reading = reading
        if reading != "exact":
            self.points = nodes
            self.matrix = moving_average_matrix(nodes, window, delta, centred=reading == "centred")
            self.interpolation = np.eye(len(nodes))
            return
        if not (math.isfinite(delta) and 0.0 < delta < 1.0):
            raise ValueError(f"the exact compression needs delta in (0, 1), got {delta!r}")
        interior = np.flatnonzero((nodes >= delta / 2) & (nodes <= 1.0 - delta / 2))
        offsets = ((np.arange(EXACT_POINTS) + 0.5) / EXACT_POINTS - 0.5) * delta
        windows = nodes[interior, None] + offsets  # (interior, EXACT_POINTS)
        self.points = np.concatenate([nodes, windows.ravel()])
        n = len(nodes)
        self.matrix = np.zeros((n, len(self.points)))
        self.matrix[np.arange(n), np.arange(n)] = 1.0
        self.matrix[interior] = 0.0
        columns = n + np.arange(windows.size).reshape(windows.shape)
        self.matrix[interior[:, None], columns] = 1.0 / EXACT_POINTS
        # P1 hat functions of the nodes at the points
        self.interpolation = np.stack(
            [np.interp(self.points, nodes, column) for column in np.eye(n)], axis=1
        )


def compression_operator(
    nodes: np.ndarray, window: int, delta: float, reading: str = "nodes"
) -> Compression:
    """Qbar_delta of the given reading (``COMPRESSIONS``) on the sorted FE nodes."""
    return Compression(nodes, window, delta, reading)


def coupling_matrix(mass: np.ndarray, norm: str = "mass") -> np.ndarray:
    """The Gram matrix of R_delta's norm on nodal gaps: M_h (``"mass"``) or its lumped diagonal,
    the trapezoidal weights of the nodes (``"nodal"``, ||.||_{H_h} of Sec. 3.1)."""
    mass = np.asarray(mass, dtype=float)
    if norm == "mass":
        return mass
    if norm == "nodal":
        return np.diag(mass.sum(axis=1))
    raise ValueError(f"unknown coupling norm {norm!r}; use one of {COUPLING_NORMS}")


def coupling_loss(
    v_points: torch.Tensor,
    y_nodes: torch.Tensor,
    average: torch.Tensor,
    mass: torch.Tensor,
    tau2: float,
    form: str = "11",
    interpolation: torch.Tensor | None = None,
) -> torch.Tensor:
    """R_delta = tau_2 g^T M g for the nodal gap g, M the Gram matrix of the norm
    (``coupling_matrix``: M_h, the L^2 norm of g's P1 interpolant, or the nodal weights).

    ``form="11"``: g = Qbar v - y_h, eq. (11); ``form="16"``: g = Qbar (v - y_h), eq. (16).
    ``average`` is Qbar on the compression's points (``Compression.matrix``), ``v_points`` v
    there; ``interpolation`` takes y_h to those points (None: the points are the nodes).
    """
    if form == "11":
        gap = v_points @ average.T - y_nodes
    elif form == "16":
        y_points = y_nodes if interpolation is None else y_nodes @ interpolation.T
        gap = (v_points - y_points) @ average.T
    else:
        raise ValueError(f"unknown coupling term {form!r}; use '11' (eq. 11) or '16' (eq. 16)")
    return tau2 * torch.sum(gap * (gap @ mass), dim=-1)
