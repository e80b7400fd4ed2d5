"""NN-LOD online phase, eq. (4.2): with exact local matrices it reproduces PG-LOD exactly."""

import numpy as np
import pytest
import torch
from mpi4py import MPI

from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.metrics import spectral_norm
from lod_fenicsx.patch import padded_patches
from lod_fenicsx.pglod import pglod_solve
from nn_compress.dataset import flatten_local_matrices
from nn_compress.fields import sample
from nn_compress.network import CompressionNetwork, layer_sizes
from nn_compress.surrogate import NNLODSurrogate, compare, monte_carlo

N, n, ELL = 4, 2, 1


class ExactNetwork(torch.nn.Module):
    """Stands in for Ψ: checks it receives R_T(A) for all T and returns the exact S_{A,T}."""

    def __init__(self, patches, flat_local):
        super().__init__()
        self.register_buffer("patches", torch.as_tensor(patches))
        self.register_buffer("out", torch.as_tensor(flat_local))

    def forward(self, x, mask=None):
        assert torch.equal(x, self.patches), "the surrogate must feed R_T(A) of every T, in order"
        return self.out


def _exact_surrogate(coefficient):
    local = PatchSolver(N, n, ELL).local_matrices(coefficient)
    net = ExactNetwork(padded_patches(coefficient, N, n, ELL), flatten_local_matrices(local))
    return NNLODSurrogate(net.double(), N, n, ELL)


def _check_assembly_equals_pglod(comm):
    a = sample("Ams", 1, 0, N * n).coefficient
    surrogate = _exact_surrogate(a)
    disc = Discretization(comm, N, n, fine=False)
    ref = pglod_solve(comm, a, N, n, ELL, rhs="one", disc=disc)
    mat = surrogate.matrix(comm, a, layout=disc.coarse_layout)
    assert spectral_norm(ref.matrix) > 1.0
    assert spectral_norm(ref.matrix, mat) < 1e-13
    u, mat2, _ = surrogate.solve(disc, a, "one")
    np.testing.assert_allclose(u, ref.u_coarse, rtol=0, atol=1e-14)


def test_nnlod_assembly_equals_pglod_with_exact_local_matrices():
    _check_assembly_equals_pglod(MPI.COMM_SELF)


@pytest.mark.mpi
def test_nnlod_assembly_equals_pglod_on_two_ranks():
    assert MPI.COMM_WORLD.size == 2
    _check_assembly_equals_pglod(MPI.COMM_WORLD)


def test_compare_and_monte_carlo_with_exact_network_give_zero_errors():
    a = sample("A2", 0, 0, N * n).coefficient
    out = compare(MPI.COMM_SELF, _exact_surrogate(a), a, a, rhs="one")
    assert out.spectral_error < 1e-13 and out.l2_error < 1e-15 and out.l2_norm_pglod > 1e-3
    smp = sample("A2", 0, 0, N * n)
    mc = monte_carlo(MPI.COMM_SELF, _exact_surrogate(a), [smp, smp], fem=True)
    np.testing.assert_allclose(mc.mean_nnlod, mc.mean_pglod, atol=1e-15)
    assert mc.mean_fem.shape == (N * n + 1, N * n + 1)
    # PG-LOD nodal values are close to the fine FEM solution at coarse nodes (ℓ = 1, tiny grid).
    fem_at_coarse = mc.mean_fem[::n, ::n]
    assert np.abs(fem_at_coarse - mc.mean_pglod).max() < 0.2 * np.abs(fem_at_coarse).max()


def test_random_network_surrogate_runs_and_differs():
    torch.manual_seed(0)
    a = sample("A2", 0, 0, N * n).coefficient
    s = NNLODSurrogate(CompressionNetwork(layer_sizes(n, ELL)), N, n, ELL)
    local = s.local_matrices(a)
    assert local.shape == (N * N, (2 * ELL + 2) ** 2, 4)
    with pytest.raises(ValueError, match="expected \\(8, 8\\)"):
        s.local_matrices(np.ones((4, 4)))


@pytest.mark.mpi
def test_monte_carlo_means_do_not_depend_on_the_rank_count():
    torch.manual_seed(1)
    net = CompressionNetwork(layer_sizes(n, ELL)).double()
    s = NNLODSurrogate(net, N, n, ELL)
    samples = [sample("lognormal-low", i, 0, N * n) for i in range(3)]
    par = monte_carlo(MPI.COMM_WORLD, s, samples, fem=True)
    ser = monte_carlo(MPI.COMM_SELF, s, samples, fem=True)
    for a, b in [
        (par.mean_fem, ser.mean_fem),
        (par.mean_pglod, ser.mean_pglod),
        (par.mean_nnlod, ser.mean_nnlod),
    ]:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(par.l2_errors, ser.l2_errors, rtol=1e-10)
    assert par.n_samples == 3 and np.all(par.contrasts > 1)


def test_monte_carlo_standard_deviations_match_the_samples():
    """Pointwise sample standard deviations of each solution and of the paired differences,
    from which the confidence intervals of the means follow (1.96 std / sqrt(M))."""
    torch.manual_seed(2)
    net = CompressionNetwork(layer_sizes(n, ELL)).double()
    s = NNLODSurrogate(net, N, n, ELL)
    samples = [sample("lognormal-moderate", i, 0, N * n) for i in range(4)]
    mc = monte_carlo(MPI.COMM_SELF, s, samples, fem=True)
    singles = [monte_carlo(MPI.COMM_SELF, s, [smp], fem=True) for smp in samples]
    per = {
        "fem": [r.mean_fem for r in singles],
        "pglod": [r.mean_pglod for r in singles],
        "nnlod": [r.mean_nnlod for r in singles],
        "nnlod_minus_pglod": [r.mean_nnlod - r.mean_pglod for r in singles],
        "pglod_minus_fem": [r.mean_pglod - r.mean_fem[::n, ::n] for r in singles],
    }
    assert set(mc.std) == set(per)
    for key, values in per.items():
        np.testing.assert_allclose(mc.std[key], np.std(values, axis=0, ddof=1), atol=1e-12)
    assert mc.std["nnlod_minus_pglod"].max() > 0
    half = mc.half_width("nnlod_minus_pglod")
    np.testing.assert_allclose(half, 1.96 * mc.std["nnlod_minus_pglod"] / 2.0)


@pytest.mark.mpi
def test_a_sample_failing_on_one_rank_ends_every_rank_of_monte_carlo():
    """Sample 1 (on rank 1) has a negative value: every rank raises the same one-line error,
    naming rank 1, instead of rank 0 waiting for ever in the reduction of the means."""
    from types import SimpleNamespace

    from plumbing.cli import CollectiveError

    assert MPI.COMM_WORLD.size == 2
    torch.manual_seed(1)
    s = NNLODSurrogate(CompressionNetwork(layer_sizes(n, ELL)).double(), N, n, ELL)
    good = sample("lognormal-low", 0, 0, N * n)
    a = good.coefficient.copy()
    a[3, 3] = -1.0
    bad = SimpleNamespace(coefficient=a, network_input=good.network_input)
    with pytest.raises(CollectiveError, match="non-positive") as e:
        monte_carlo(MPI.COMM_WORLD, s, [good, bad], fem=False)
    assert e.value.ranks == (1,)
    # and the ranks go on together: the next collective call works
    mc = monte_carlo(MPI.COMM_WORLD, s, [good, good], fem=False)
    np.testing.assert_allclose(
        mc.mean_pglod, monte_carlo(MPI.COMM_SELF, s, [good], fem=False).mean_pglod
    )
