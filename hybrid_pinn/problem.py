"""The 1-D multiscale model problem (57) of Sec. 4.4, written once, and its closed-form solution.

    -(K_eps u')' = f  in (0, 1),  u(0) = u(1) = 0,
    K_eps(x) = 1 / (1.2 + sin(2 pi x / eps)),  q = -3 (2x - 1),  f = q + K_eps'.

Every function of x accepts NumPy arrays, torch tensors and UFL expressions (the SpatialCoordinate
of a DOLFINx mesh), so the network losses, the fine reference and the coarse problem evaluate the
same formulas.

Writing w = u + x gives -(K_eps w')' = q, so the flux is K_eps (u' + 1) = 3 (x^2 - x) + C with
C fixed by u(1) = 0. For 1/eps an integer, C = 4/3 and the upscaled coefficient
K~[u] = int_0^1 K_eps (u' + 1) dx equals 5/6 exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from plumbing.checks import check_real, check_real_array

__all__ = [
    "check_eps",
    "k_eps",
    "k_eps_dx",
    "source_q",
    "source_f",
    "exact_solution",
    "exact_k_tilde",
]

# The amplitude shift of the oscillating coefficient: K_eps = 1 / (SHIFT + sin(2 pi x / eps)).
SHIFT = 1.2


def check_eps(eps: float) -> float:
    """Validate the period eps of K_eps: finite, in (0, 1]; returns it as float."""
    eps = check_real("eps", eps)
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps must be a finite number in (0, 1], got {eps!r}")
    return eps


def _math_module(x):
    """torch, ufl or numpy, whichever evaluates sin/cos of x (UFL: a DOLFINx SpatialCoordinate)."""
    if isinstance(x, torch.Tensor):
        return torch
    if type(x).__module__.startswith("ufl"):
        import ufl

        return ufl
    return np


def k_eps(x, eps: float):
    """K_eps(x) = 1 / (1.2 + sin(2 pi x / eps)), the coefficient of (57)."""
    omega = 2.0 * math.pi / eps
    return 1.0 / (SHIFT + _math_module(x).sin(omega * x))


def k_eps_dx(x, eps: float):
    """K_eps'(x), the oscillating part of the right-hand side f of (57)."""
    lib = _math_module(x)
    omega = 2.0 * math.pi / eps
    return -omega * lib.cos(omega * x) / (SHIFT + lib.sin(omega * x)) ** 2


def source_q(x):
    """q(x) = -3 (2x - 1), the slowly varying source of (57) and of the coarse problem (48)."""
    return -3.0 * (2.0 * x - 1.0)


def source_f(x, eps: float):
    """f = q + K_eps', the right-hand side of (57)."""
    return source_q(x) + k_eps_dx(x, eps)


def _flux_constant(eps: float) -> float:
    """C in K_eps (u' + 1) = 3 (x^2 - x) + C, from int_0^1 u' dx = 0 (integrated in closed form)."""
    omega = 2.0 * math.pi / eps
    c1 = math.cos(omega)
    s1 = math.sin(omega)
    int_sin = (1.0 - c1) / omega
    # p = 3x^2 - 3x vanishes at 0 and 1, so int p sin = [p' sin / w^2 + p'' cos / w^3]_0^1.
    int_p_sin = 3.0 * s1 / omega**2 + 6.0 * (c1 - 1.0) / omega**3
    int_p = -0.5
    # 1 = int (p + C)(1.2 + sin) = 1.2 int_p + int_p_sin + C (1.2 + int_sin)
    return (1.0 - SHIFT * int_p - int_p_sin) / (SHIFT + int_sin)


def exact_solution(x: np.ndarray, eps: float) -> np.ndarray:
    """Closed-form solution u of (57):
    u(x) = int_0^x (3 s^2 - 3 s + C)(1.2 + sin(omega s)) ds - x.

    Here omega = 2 pi / eps and C is fixed by u(1) = 0.

    Parameters
    ----------
    x : array_like
        Points of [0, 1].
    eps : float
        The period of K_eps, in (0, 1] (e.g. 1/16).

    Returns
    -------
    numpy.ndarray
        u at ``x``, of ``x``'s shape.

    Raises
    ------
    ValueError
        If ``eps`` is not a finite number in (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> exact_solution(np.array([0.0, 0.5, 1.0]), 1 / 16).round(6)
    array([0.     , 0.00746, 0.     ])
    """
    eps = check_eps(eps)
    x = check_real_array("x", x)
    omega = 2.0 * math.pi / eps
    c = _flux_constant(eps)

    def antiderivative(s):
        p = 3.0 * s**2 - 3.0 * s + c
        dp = 6.0 * s - 3.0
        smooth = SHIFT * (s**3 - 1.5 * s**2 + c * s)
        oscillating = -p * np.cos(omega * s) / omega + dp * np.sin(omega * s) / omega**2
        oscillating += 6.0 * np.cos(omega * s) / omega**3
        return smooth + oscillating

    return antiderivative(x) - antiderivative(0.0) - x


def exact_k_tilde(eps: float) -> float:
    """K~[u] = int_0^1 K_eps (u' + 1) dx = int_0^1 (3x^2 - 3x + C) dx of the exact u
    (5/6 if 1/eps is an integer)."""
    return -0.5 + _flux_constant(check_eps(eps))
