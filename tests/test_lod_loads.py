"""Load vectors F_i = (f, λ_i) (paper 000, eq. (3.7) with f_h = 𝔐f) on the coarse and fine meshes.

The expected values are closed forms, derived by hand: on a uniform grid with spacing h the hat
function of node (a, b) is φ_a(x) φ_b(y), so for f = g(x) p(y) the pairing (f, φ_a φ_b) is the
product of two 1-D integrals ∫ g φ_a dx ∫ p φ_b dy over [x_{a−1}, x_{a+1}]:

* ∫ φ_a = h and ∫ x φ_a = x_a h (φ_a is symmetric about x_a);
* ∫ x χ{x ≥ 1/2} φ_a = 0 left of the jump, x_a h right of it, and x_a h/2 + h²/6 at x_a = 1/2
  (∫_0^h (x_a + t)(1 − t/h) dt);
* ∫ cos(k x) φ_a = cos(k x_a) 2 (1 − cos kh) / (k² h), ∫ sin(k x) φ_a = sin(k x_a) times the same
  factor (∫_{−h}^{h} (1 − |t|/h) cos(kt) dt; the odd part integrates to zero).
"""

import numpy as np
import pytest
from lod_reference import fine_interior, fine_stiffness
from mpi4py import MPI

from lod_fenicsx.discretization import Discretization
from lod_fenicsx.loads import RHS, coarse_load, fine_load
from lod_fenicsx.reference import fine_solve


def _hat_moments(name: str, n: int) -> np.ndarray:
    """∫_0^1 g(x) φ_a(x) dx for a = 0..n on the grid x_a = a / n (interior entries are used)."""
    h = 1.0 / n
    x = np.arange(n + 1) * h
    if name == "one":
        return np.full(n + 1, h)
    if name == "x":
        return x * h
    if name == "x1_right_half":
        assert n % 2 == 0, "the jump at x = 1/2 must lie on a grid line"
        out = np.where(x > 0.5, x * h, 0.0)
        out[n // 2] = 0.5 * h / 2 + h**2 / 6
        return out
    k = {"cos2pi_x1": 2 * np.pi, "sine": np.pi}[name]
    factor = 2 * (1 - np.cos(k * h)) / (k**2 * h)
    return (np.cos(k * x) if name == "cos2pi_x1" else np.sin(k * x)) * factor


def closed_form_load(name: str, n: int) -> np.ndarray:
    """(f, φ_i) on the (n+1)^2 nodes ``[iy, ix]`` of the n x n grid, 0 on the boundary."""
    x_part = _hat_moments(name, n)
    y_part = _hat_moments("sine" if name == "sine" else "one", n)
    out = np.outer(y_part, x_part)
    out[[0, -1], :] = 0.0
    out[:, [0, -1]] = 0.0
    return out


def _structured(disc: Discretization, vec, fine: bool) -> np.ndarray:
    layout = disc.fine_layout if fine else disc.coarse_layout
    values = layout.to_structured(disc.comm, vec.array.copy())
    vec.destroy()
    return values


def _loads(comm, n_coarse, n_sub, name, load="l2"):
    """The coarse and the fine load of ``name`` as ``[iy, ix]`` arrays on all ranks."""
    disc = Discretization(comm, n_coarse, n_sub)
    coarse = _structured(disc, coarse_load(disc, name, load=load), fine=False)
    fine = _structured(disc, fine_load(disc, name, load=load), fine=True)
    return coarse, fine


CASES = ["one", "x", "x1_right_half", "cos2pi_x1", "sine"]


def _max_deviation(comm, n_coarse, n_sub) -> float:
    """Largest |F − closed form| over CASES, coarse and fine, relative to max |F|."""
    worst = 0.0
    for name in CASES:
        coarse, fine = _loads(comm, n_coarse, n_sub, name)
        for got, n in ((coarse, n_coarse), (fine, n_coarse * n_sub)):
            expected = closed_form_load(name, n)
            worst = max(worst, np.abs(got - expected).max() / np.abs(expected).max())
    return worst


@pytest.mark.parametrize("n_coarse", [4, 6])
def test_load_is_the_exact_l2_pairing(n_coarse):
    """F_i = (f, λ_i) to 1e-12 for the experiments' f on the coarse and fine meshes."""
    assert _max_deviation(MPI.COMM_SELF, n_coarse, 3) < 1e-12


@pytest.mark.mpi
def test_load_is_the_exact_l2_pairing_on_two_ranks():
    assert MPI.COMM_WORLD.size == 2
    assert _max_deviation(MPI.COMM_WORLD, 4, 3) < 1e-12


@pytest.mark.mpi
def test_load_independent_of_the_rank_count():
    assert MPI.COMM_WORLD.size == 2
    for name in ("x1_right_half", "cos2pi_x1"):
        for world, single in zip(
            _loads(MPI.COMM_WORLD, 6, 3, name), _loads(MPI.COMM_SELF, 6, 3, name)
        ):
            assert np.abs(world - single).max() < 1e-15 * np.abs(single).max()


def _interpolant_load(name: str, n: int) -> np.ndarray:
    """(f_I, φ_i) for f = g(x) and its nodal interpolant f_I: h (M_1 g(x_·))_a with the 1-D
    mass matrix M_1 = h/6 tridiag(1, 4, 1); the old load of ``loads``."""
    h = 1.0 / n
    g = RHS[name](np.arange(n + 1) * h, 0.0)
    out = np.zeros((n + 1, n + 1))
    out[1:-1, 1:-1] = np.outer(np.full(n - 1, h), h / 6 * (g[:-2] + 4 * g[1:-1] + g[2:]))
    return out


def test_interpolant_option_is_the_old_load():
    """``load="interpolant"`` is (f_I, λ_i); it equals the L² pairing for f = 1 and is ≈ 6 % off
    (2-norm) for experiment 2 on the paper's coarse mesh N_H = 32."""
    for n in (4, 32):
        disc = Discretization(MPI.COMM_SELF, n, 1, fine=False)
        old = _structured(disc, coarse_load(disc, "x1_right_half", load="interpolant"), False)
        assert np.abs(old - _interpolant_load("x1_right_half", n)).max() < 1e-15
        one = _structured(disc, coarse_load(disc, "one", load="interpolant"), False)
        assert np.abs(one - closed_form_load("one", n)).max() < 1e-15
    new = closed_form_load("x1_right_half", 32)
    assert 0.05 < np.linalg.norm(old - new) / np.linalg.norm(new) < 0.07
    with pytest.raises(ValueError, match="load must be one of"):
        coarse_load(disc, "one", load="nodal")


def test_fine_reference_uses_the_l2_pairing():
    """u_h of ``fine_solve`` solves K u = (f, φ_i) with the closed-form fine load."""
    from scipy.sparse.linalg import spsolve

    n_coarse, n_sub = 4, 3
    n = n_coarse * n_sub
    a = np.random.default_rng(5).uniform(1.0, 5.0, (n, n))
    free = np.flatnonzero(fine_interior(n))
    k = fine_stiffness(a).tocsr()[free][:, free].tocsc()

    def fem(load):
        u = np.zeros((n + 1) ** 2)
        u[free] = spsolve(k, load.ravel()[free])
        return u.reshape(n + 1, n + 1)

    expected = fem(closed_form_load("x1_right_half", n))
    _, u = fine_solve(Discretization(MPI.COMM_SELF, n_coarse, n_sub), a, "x1_right_half", 1e-13)
    assert np.abs(u - expected).max() < 1e-10 * np.abs(expected).max()
    # The nodal interpolant's load moves u_h far more than the tolerance: the test tells the
    # two loads apart.
    old = fem(_interpolant_load("x1_right_half", n))
    assert np.abs(old - expected).max() > 1e-3 * np.abs(expected).max()
