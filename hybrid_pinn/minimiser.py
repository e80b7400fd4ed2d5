"""The exact minimiser of a run's objective, without a network: where Alg. 1 ends when it converges.

Alg. 1 minimises J(v) + R_delta(v) over the network's parameters; Ms-PINN minimises J alone.
Replacing the network by a sine series v = sum_k c_k sin(k pi x), k = 1..K, plus two
polynomials for the boundary values of v'' (rich enough to hold u to about 1e-6, and vanishing at
0 and 1 like the hard Dirichlet factor), and the M collocation points by a dense midpoint rule
(what J is when the trained network does not alias: J on the points equals J between them in
every Table 2 run) leaves a smooth problem in c, solved here to round-off:

    J(c)        = mean over the dense points of (A c - b)^2,      A, b: the residual of (57),
    R_delta(c)  = tau_2 g^T M_h g,   g = Qbar S c - y_1 / K~(c)     (coupling (11)),
                                     g = Qbar (S c - I y_1 / K~(c)) (coupling (16)),
    K~(c)       = k0 + w^T c,        y_h = y_1 / K~  (B_h = K~ A_h, so y_1 = A_h^{-1} F_h),

where S evaluates v at the compression's points (the coarse nodes for the moving average (59)),
I takes y_h there, and M_h is the Gram matrix of R_delta's norm (configuration readings:
``hybrid_pinn.losses``). With J's weights 1 instead of 1/M, J is M times larger.

Only y_h depends on c non-linearly (through the scalar K~), so Gauss-Newton on the linearised
1 / K~ (with backtracking) converges in a few steps, each one linear least-squares problem: the
dense rows of J are reduced once by a QR factorisation, and each step solves the K + N_h rows
that remain (QR with column pivoting).

The relative error of this minimiser (in Table 2's norm) is where a run of the method ends when
its optimiser converges: more iterations, features or a better step size bring it there, not
below. A run still far from the minimum of its objective can pass below it on the way (the
objective does not measure the error), and one whose network aliases between the M points
minimises another objective. With tau_2 = 0 it is the PINN's minimiser, u itself up to
truncation, so the method's floor is the coupling's bias alone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from plumbing.checks import check_instance, check_real, check_size

from .coarse import CoarseProblem
from .losses import compression_operator, coupling_matrix, k_tilde, pinn_residual
from .reference import fine_reference
from .training import TrainingConfig

__all__ = ["ObjectiveMinimiser", "objective_minimiser", "default_modes"]

# Harmonics of K_eps = 1 / (1.2 + sin(2 pi x / eps)) decay like r^n, r = 1.2 - sqrt(1.2^2 - 1)
# = 0.537; 20 of them (r^20 = 4e-6) hold u to about 1e-6: 20 / eps periods, 40 / eps sine modes.
HARMONICS = 20
# Polynomials beside the sines, for the boundary values of v'' (see ``_basis``). Two leave the
# columns conditioned to ~1e4; four would bring J(u) from 4e-6 to 1e-12 at cond ~2e10, where the
# pivoted QR no longer finds the solution (the errors agree to 1e-6 either way).
POLYNOMIALS = 2


def default_modes(eps: float) -> int:
    """K = 2 * HARMONICS / eps sine modes."""
    return int(math.ceil(2 * HARMONICS / eps))


@dataclass(frozen=True)
class ObjectiveMinimiser:
    """The minimiser v* of J (+ R_delta) and its numbers."""

    values: np.ndarray  # v* at the reference nodes
    relative_error: float  # ||v* - u_h|| / ||u_h|| on the reference nodes (Table 2's norm)
    pinn_loss: float  # J(v*) on the dense points (times M for pinn_quadrature "sum")
    coupling: float  # R_delta(v*) (0 for tau_2 = 0)
    k_tilde: float  # K~[v*]
    gap: float  # ||Qbar v* - y_h(v*)||_{M_h} / ||y_h(v*)||_{M_h}
    gauss_newton_steps: int
    n_modes: int
    n_points: int


def _basis(x: torch.Tensor, n_modes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """v, v', v'' of the basis at x, shape (len(x), POLYNOMIALS + K): the polynomials
    x^(j+1) (1 - x), j < POLYNOMIALS, then sin(k pi x) scaled by 1 / (1 + (k pi)^2).

    The sine series alone converges slowly in v'' (u'' does not vanish at 0 and 1, so the odd
    extension of u'' jumps there); the polynomials carry those boundary values."""
    j = torch.arange(POLYNOMIALS, dtype=x.dtype)
    xx = x[:, None]
    poly = xx ** (j + 1) - xx ** (j + 2)
    dpoly = (j + 1) * xx**j - (j + 2) * xx ** (j + 1)
    d2poly = (j + 1) * j * xx ** (j - 1).clamp(min=0) - (j + 2) * (j + 1) * xx**j
    k_pi = math.pi * torch.arange(1, n_modes + 1, dtype=x.dtype)
    scale = 1.0 / (1.0 + k_pi**2)
    phase = xx * k_pi
    s, c = torch.sin(phase), torch.cos(phase)
    return (
        torch.cat([poly, s * scale], dim=1),
        torch.cat([dpoly, c * (k_pi * scale)], dim=1),
        torch.cat([d2poly, -s * (k_pi**2 * scale)], dim=1),
    )


@dataclass(frozen=True)
class _DenseResidual:
    """J's rows on the dense points, J(c) = ||rows c - rhs||^2, their QR reduction
    (||r c - top||^2 + const) and K~(c) = k0 + w^T c."""

    rows: torch.Tensor
    rhs: torch.Tensor
    r: torch.Tensor
    top: torch.Tensor
    w: torch.Tensor
    k0: float


@functools.lru_cache(maxsize=3)
def _dense_residual(eps: float, n_modes: int, n_points: int) -> _DenseResidual:
    """The part of the problem that depends on eps and the discretisation only, computed once for
    every reading, coupling and tau_2 (the QR factorisation is the bulk of a minimisation)."""
    f64 = dict(dtype=torch.float64)
    x = (torch.arange(n_points, **f64) + 0.5) / n_points
    _, dphi, d2phi = _basis(x, n_modes)
    # The residual is affine in (v', v''): A c - b, with the one formula of losses.py.
    zero = torch.zeros_like(x)
    offset = pinn_residual(zero, zero, x, eps)
    a = pinn_residual(dphi.T, d2phi.T, x, eps).T - offset[:, None]
    rows, rhs = a / math.sqrt(n_points), -offset / math.sqrt(n_points)
    q, r = torch.linalg.qr(rows)
    return _DenseResidual(
        rows=rows,
        rhs=rhs,
        r=r,
        top=q.T @ rhs,
        w=k_tilde(dphi.T, x, eps) - k_tilde(zero, x, eps),
        k0=float(k_tilde(zero, x, eps)),
    )


def objective_minimiser(
    config: TrainingConfig,
    tau2: float | None = None,
    n_modes: int | None = None,
    n_points: int | None = None,
    tolerance: float = 1e-12,
    max_steps: int = 50,
) -> ObjectiveMinimiser:
    """Minimise the objective of ``config`` (its eps, coarse mesh, window, compression, coupling
    and its norm, J's weights, tau_2, reference) over K sine modes, with J on ``n_points``
    midpoints (default 4 K).

    ``tau2`` overrides the configuration's (0: the PINN's objective J alone; ``config.method``
    is not read, so one configuration gives both).

    The objective is minimised by Gauss-Newton steps over the coefficients of a basis of two
    polynomials x^(j+1) (1 - x) and K scaled sines sin(k pi x), which satisfy the boundary
    conditions of (57).

    Parameters
    ----------
    config : TrainingConfig
        The run whose objective is minimised.
    tau2 : float, optional
        tau_2 >= 0 instead of ``config.tau2``.
    n_modes : int, optional
        K, the sine modes (default from eps, ``default_modes``).
    n_points : int, optional
        Midpoints of J (default 4 K, at least K).
    tolerance : float
        The steps stop when the relative change of K~ or of the objective falls below it.
    max_steps : int
        Most Gauss-Newton steps (with backtracking; none for tau_2 = 0, where the minimiser is
        a linear least-squares solution).

    Returns
    -------
    ObjectiveMinimiser
        v* at the reference nodes, its relative error (Table 2's norm), J(v*), R_delta(v*),
        K~[v*], the relative coupling gap and the step count.

    Raises
    ------
    ValueError
        If ``tau2`` is negative or not finite, or ``n_points < n_modes``.
    """
    check_instance("config", config, TrainingConfig)
    tau2 = config.tau2 if tau2 is None else check_real("tau2", tau2)
    if not tau2 >= 0.0:
        raise ValueError(f"tau2 must be a finite number >= 0, got {tau2!r}")
    eps = config.eps
    n_modes = default_modes(eps) if n_modes is None else check_size("n_modes", n_modes)
    n_points = 4 * n_modes if n_points is None else check_size("n_points", n_points)
    tolerance = check_real("tolerance", tolerance, positive=True)
    max_steps = check_size("max_steps", max_steps, 0)
    if n_modes < 1 or n_points < n_modes:
        raise ValueError(f"need 1 <= n_modes <= n_points, got {n_modes} and {n_points}")
    f64 = dict(dtype=torch.float64)

    dense = _dense_residual(eps, n_modes, n_points)
    rows_j, r, top, w, k0 = dense.rows, dense.r, dense.top, dense.w, dense.k0

    coarse = CoarseProblem(config.n_coarse, mesh_reading=config.coarse_mesh, solver=config.solver)
    try:
        y1 = torch.as_tensor(coarse.solve_state(1.0), **f64)
        mass = torch.as_tensor(coupling_matrix(coarse.mass, config.coupling_norm), **f64)
    finally:
        coarse.destroy()
    compression = compression_operator(coarse.nodes, config.window, eps, config.compression)
    average = torch.as_tensor(compression.matrix, **f64)
    s_points = _basis(torch.as_tensor(compression.points, **f64), n_modes)[0]
    p = average @ s_points  # Qbar S c: the compressed v at the nodes
    if config.coupling == "11":
        y1_seen = y1  # g = Qbar S c - y_1 / K~
    else:  # g = Qbar (S c - y_1 / K~), y_1 taken to the compression's points
        y1_seen = average @ (torch.as_tensor(compression.interpolation, **f64) @ y1)

    # ||L^T g||^2 = g^T M_h g with M_h = L L^T: R_delta as rows of a least-squares problem.
    root = torch.linalg.cholesky(mass).T

    def least_squares(rows: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
        """min ||r c - top||^2 + ||rows c - rhs||^2 by QR with column pivoting."""
        stacked, right = torch.cat([r, rows]), torch.cat([top, rhs])
        return torch.linalg.lstsq(stacked, right[:, None], driver="gelsy").solution[:, 0]

    # J's weights 1 ("sum") instead of 1/M make J M times larger: the same minimiser as J (on
    # the dense points, weights 1/points) plus tau_2 / M times R_delta.
    j_scale = config.n_collocation if config.pinn_quadrature == "sum" else 1
    weight = math.sqrt(tau2 / j_scale) * root

    def objective(c: torch.Tensor) -> float:
        """J + R_delta at c (inf where K~ <= 0: the coarse problem is not coercive there)."""
        kappa = k0 + float(w @ c)
        if not kappa > 0.0:
            return math.inf
        gap = weight @ (p @ c - y1_seen / kappa)
        # J up to a constant: ||r c - top||^2, on K rows instead of the dense points
        return float(torch.sum((r @ c - top) ** 2) + torch.sum(gap**2))

    c = least_squares(rows_j[:0], top[:0])
    steps = 0
    if tau2 > 0.0:
        value = objective(c)
        for steps in range(1, max_steps + 1):
            kappa = k0 + float(w @ c)
            # g(c') ~ p c' - y1/kappa + y1 w^T (c' - c) / kappa^2 = p_lin c' - t
            p_lin = p + torch.outer(y1_seen, w) / kappa**2
            t = y1_seen / kappa + y1_seen * float(w @ c) / kappa**2
            step = least_squares(weight @ p_lin, weight @ t) - c
            # Backtracking: far from the minimiser (tau_2 large, K~ moving) the full
            # Gauss-Newton step can overshoot.
            fraction = 1.0
            while objective(c + fraction * step) > value and fraction > 1e-6:
                fraction /= 2
            c = c + fraction * step
            value, previous = objective(c), value
            if abs(float(w @ step)) * fraction < tolerance * kappa or previous - value <= (
                tolerance * value
            ):
                break
        else:
            raise RuntimeError(f"Gauss-Newton did not converge in {max_steps} steps")

    kappa = k0 + float(w @ c)
    residual = (rows_j @ c - dense.rhs) * math.sqrt(n_points)
    y = y1 / kappa
    gap = p @ c - y1_seen / kappa
    norm = lambda g: math.sqrt(float(g @ mass @ g))  # noqa: E731
    reference = fine_reference(eps, config.n_reference, solver=config.solver)
    ref_nodes = torch.as_tensor(reference.nodes, **f64)
    values = (_basis(ref_nodes, n_modes)[0] @ c).numpy()
    u = reference.values
    return ObjectiveMinimiser(
        values=values,
        relative_error=float(np.linalg.norm(values - u) / np.linalg.norm(u)),
        pinn_loss=j_scale * float(torch.mean(residual**2)),
        coupling=tau2 * norm(gap) ** 2,
        k_tilde=kappa,
        gap=norm(p @ c - y) / norm(y),
        gauss_newton_steps=steps,
        n_modes=n_modes,
        n_points=n_points,
    )
