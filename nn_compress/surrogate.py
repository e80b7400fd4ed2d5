"""NN-LOD online phase: the surrogate Ŝ_A from one forward pass, its solve, errors, Monte Carlo.

Paper 000, Sec. 2.7 and eq. (4.2): Ŝ_A = Σ_T π_T Ψ(R_T(A)) φ_Tᵀ, with the patches R_T(A) of
all coarse elements pushed through the network Ψ as one minibatch and the outputs assembled by
the same ``lod_fenicsx.assembly.assemble_global`` as the PG-LOD matrix S_A (3.10), so both live
in the same PETSc layout. Paper 004, Sec. 6: Monte Carlo means of the FEM, PG-LOD and NN-LOD
solutions, parallel over samples (each rank solves whole samples on COMM_SELF).

The surrogate has the dimension d of its network (``CompressionNetwork.dim``): 2-D fields
``[iy, ix]`` on quadrilaterals, or 3-D fields ``[iz, iy, ix]`` on hexahedra; a field of the other
dimension is refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from mpi4py import MPI

from lod_fenicsx.assembly import assemble_global
from lod_fenicsx.corrector import PatchSolver
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.metrics import coarse_l2_error, spectral_norm
from lod_fenicsx.linalg import coarse_solve
from lod_fenicsx.loads import coarse_load, rhs_function
from lod_fenicsx.pglod import check_sizes, pglod_solve, rank_elements
from lod_fenicsx.reference import fine_solve
from plumbing.checks import (
    ArgumentTypeError,
    check_device,
    check_dim,
    check_finite,
    check_flag,
    check_instance,
    check_real_dtype,
)
from plumbing.cli import collective
from plumbing.timing import phase
from nn_compress.dataset import PatchCutter, unflatten_local_matrices
from nn_compress.network import input_size, output_size, project_onto_structure


class NNLODSurrogate:
    """A trained network Ψ bound to one discretization (N_H, n, ℓ).

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of patches ``(k, ((2ℓ+1) n)^d)`` to ``(k, 2^d (2ℓ+2)^d)`` column-wise
        flattened local matrices (a ``CompressionNetwork``, e.g. from ``load_model``).
    n_coarse, n_sub, ell : int
        N_H, n, ℓ of the data the network was trained on.
    device : str or torch.device
        Where the forward pass runs.
    dtype : torch.dtype, optional
        Run the forward pass in this dtype (a converted copy of the model), e.g.
        ``torch.bfloat16`` on CPUs with AVX512-BF16: about 2.5x faster, at ~3 significant digits.
    dim : int, optional
        Space dimension d (default: the model's ``dim``, else 2).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        n_coarse: int,
        n_sub: int,
        ell: int,
        device="cpu",
        dtype: torch.dtype | None = None,
        dim: int | None = None,
        project: bool = False,
    ):
        """``project``: pass the network's outputs through ``project_onto_structure`` (zero
        line sums where the labels have them), e.g. for a plain network after training."""
        # Every argument first, as pglod_solve does: a ValueError or TypeError that names it.
        check_instance("model", model, torch.nn.Module, "torch.nn.Module (nn_compress.load_model)")
        n_coarse, n_sub, ell = check_sizes(n_coarse, n_sub, ell)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ArgumentTypeError(
                f"dtype must be a floating torch.dtype (torch.bfloat16), got {dtype!r}"
            )
        self.project = check_flag("project", project)
        device = check_device("device", device)
        self.dim = check_dim(getattr(model, "dim", 2) if dim is None else dim)
        _check_sizes(model, n_sub, ell, self.dim)
        if dtype is not None:
            import copy

            model = copy.deepcopy(model).to(dtype)
        self.model = model.to(device).eval()
        self.n_coarse, self.n_sub, self.ell = n_coarse, n_sub, ell
        self.device = device
        self.cutter = PatchCutter(n_coarse, n_sub, ell, device=self.device, dim=self.dim)
        tensors = [*model.parameters(), *model.buffers()]
        self.dtype = tensors[0].dtype if tensors else torch.float32

    def check_input(self, network_input) -> np.ndarray:
        """``network_input`` as an array, refused in one line (naming it) where it is not a real,
        finite field of shape ``(N_H n,) * d``: torch would take the real part of a complex
        field or 0/1 of a boolean one, and turn NaN into NaN matrices without a word."""
        expected = (self.n_coarse * self.n_sub,) * self.dim
        axes = "[iy, ix]" if self.dim == 2 else "[iz, iy, ix]"
        network_input = np.asarray(network_input)
        if network_input.ndim != self.dim:
            raise ValueError(
                f"network_input is {network_input.ndim}-D (shape {network_input.shape}), "
                f"the network {self.dim}-D: it takes fields of shape {expected} {axes}"
            )
        if network_input.shape != expected:
            raise ValueError(
                f"network_input has shape {network_input.shape}, expected {expected} {axes}"
            )
        check_real_dtype("network_input", network_input.dtype)
        check_finite("network_input", network_input, axes)
        return network_input

    @torch.inference_mode()
    def local_matrices(self, network_input: np.ndarray) -> np.ndarray:
        """Ψ(R_T(A)) for every T, one batched forward pass: ``(N_H^d, (2ℓ+2)^d, 2^d)`` float64."""
        network_input = self.check_input(network_input)
        x = torch.as_tensor(network_input, dtype=self.dtype, device=self.device)
        mask = self.cutter.mask(slice(None), self.dtype)
        out = self.model(self.cutter.all_patches(x), mask)
        if self.project:
            out = project_onto_structure(out, mask, 2**self.dim)
        return unflatten_local_matrices(out.to("cpu", torch.float64).numpy(), self.ell)

    def matrix(self, comm: MPI.Comm, network_input: np.ndarray, layout=None, neumann=None):
        """Ŝ_A, eq. (4.2), as a PETSc matrix on ``comm`` (collective; ranks add their elements).

        Homogeneous Dirichlet only: ``neumann`` faces are refused (``homogeneous_dirichlet``)."""
        homogeneous_dirichlet(neumann)
        mine = rank_elements(comm, self.n_coarse, self.dim)
        local = self.local_matrices(network_input)[mine]
        return assemble_global(comm, local, mine, self.n_coarse, self.ell, layout=layout)

    def solve(
        self,
        disc: Discretization,
        network_input: np.ndarray,
        rhs="one",
        neumann=None,
        dirichlet=None,
        flux=None,
    ):
        """û_H from Ŝ_A Û = F: ``(u on the coarse nodes [iy, ix] / [iz, iy, ix], Ŝ_A, timings)``.

        u = 0 on all of ∂D: Neumann faces and boundary data are refused
        (``homogeneous_dirichlet``)."""
        homogeneous_dirichlet(neumann, dirichlet, flux)
        timings = {}
        with phase(timings, "compression", event="nnlod_compression"):
            mat = self.matrix(disc.comm, network_input, layout=disc.coarse_layout)
        with phase(timings, "solve", event="nnlod_solve"):
            load = coarse_load(disc, rhs)
            sol = coarse_solve(mat, load)
            lo, hi = sol.getOwnershipRange()
            u = disc.coarse_layout.to_structured(disc.comm, sol.getArray()[: hi - lo])
        load.destroy(), sol.destroy()
        return u, mat, timings


def homogeneous_dirichlet(neumann=None, dirichlet=None, flux=None) -> None:
    """Refuse what NN-LOD cannot do: its networks learnt S_{A,T} of u = 0 on all of ∂D
    (issue 32), so a Neumann face or non-zero boundary data gives a ValueError in one line."""
    given = [
        name
        for name, value in (("neumann", neumann), ("dirichlet", dirichlet), ("flux", flux))
        if value is not None and (callable(value) or np.any(np.asarray(value, dtype=object)))
    ]
    if given:
        raise ValueError(
            f"NN-LOD solves u = 0 on the whole boundary only (its networks were trained for it); "
            f"{' and '.join(given)} given: use lod_fenicsx.pglod_solve for other boundary "
            "conditions"
        )


def _check_sizes(model: torch.nn.Module, n_sub: int, ell: int, dim: int = 2) -> None:
    """The network's input and output widths against R_T(A) and S_{A,T} of (n, ℓ, d), when it
    says them (``sizes``) or they can be read from its first and last linear layer."""
    sizes = getattr(model, "sizes", None)
    if sizes is None:
        linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        sizes = [linear[0].in_features, linear[-1].out_features] if linear else None
    if sizes is None:
        return
    d = dim
    expected = (
        ("input", sizes[0], input_size(n_sub, ell, d), f"((2 ell + 1) n)^{d}, n = {n_sub}"),
        ("output", sizes[-1], output_size(ell, d), f"2^{d} (2 ell + 2)^{d}"),
    )
    for what, size, wanted, rule in expected:
        if size != wanted:
            raise ValueError(
                f"the network's {what} size {size} does not fit: NNLODSurrogate expects {wanted} "
                f"= {rule}, ell = {ell}; pass the n_sub and ell the network was trained for"
            )


@dataclass
class Comparison:
    """PG-LOD vs NN-LOD for one coefficient (paper 000, Sec. 4.4-4.6)."""

    u_pglod: np.ndarray
    u_nnlod: np.ndarray
    spectral_error: float  # ‖S_A − Ŝ_A‖_2
    l2_error: float  # ‖u_h − û_h‖_{L2(D)} (coarse PG-LOD vs NN-LOD solutions)
    l2_norm_pglod: float
    timings: dict = field(default_factory=dict)
    local_pglod: np.ndarray | None = None  # S_{A,T} of all elements (on comm's rank 0 elements only
    local_nnlod: np.ndarray | None = None  # when comm has several ranks: see ``compare``)
    spectral_norm_pglod: float = float("nan")  # ‖S_A‖_2


def compare(
    comm: MPI.Comm,
    surrogate: NNLODSurrogate,
    coefficient,
    network_input,
    rhs="one",
    disc: Discretization | None = None,
    patch_solver=None,
) -> Comparison:
    """Solve with PG-LOD and NN-LOD on ``comm`` and measure ‖S_A − Ŝ_A‖_2 and the L² error.

    ``local_pglod`` / ``local_nnlod`` hold the local matrices of this rank's elements
    (``pglod.rank_elements``; all elements on one rank). Pass ``patch_solver`` to reuse its
    set-up over many coefficients.

    Parameters
    ----------
    comm : MPI.Comm
        Ranks that share the PG-LOD and NN-LOD problems.
    surrogate : NNLODSurrogate
        The network's surrogate; its (N_H, n, ℓ, d) set the discretization.
    coefficient : numpy.ndarray
        A on the fine cells, shape ``(N_H n,) * d``, indexed ``[iy, ix]`` (``[iz, iy, ix]``
        in 3-D), x fastest; the same on every rank.
    network_input : numpy.ndarray
        The field the network reads, same shape (the coefficient itself for the paper-000
        families, g with A = exp(g) for the lognormal ones: ``sample(...).network_input``).
    rhs : str
        Right-hand side f, a name of ``lod_fenicsx.RHS``.
    disc : Discretization, optional
        The coarse discretization on ``comm``, to reuse.
    patch_solver : PatchSolver, optional
        A corrector set-up for the same (N_H, n, ℓ, d), to reuse.

    Returns
    -------
    Comparison
        ``u_pglod`` and ``u_nnlod`` on the coarse nodes, shape ``(N_H + 1,) * d``;
        ``spectral_error`` ‖S_A − Ŝ_A‖₂, ``l2_error`` ‖u_h − û_h‖ in L²(D), their
        references ``spectral_norm_pglod`` and ``l2_norm_pglod``, and the phases' seconds.
    """
    from lod_fenicsx.metrics import l2_norm

    s = check_instance("surrogate", surrogate, NNLODSurrogate)
    network_input = s.check_input(network_input)  # before the PG-LOD solve, as the coefficient
    rhs_function(rhs)
    disc = disc or Discretization(comm, s.n_coarse, s.n_sub, fine=False, dim=s.dim)
    t_pglod = {}
    with phase(t_pglod, "pglod_total"):
        ref = pglod_solve(
            comm,
            coefficient,
            s.n_coarse,
            s.n_sub,
            s.ell,
            rhs=rhs,
            disc=disc,
            patch_solver=patch_solver,
        )
    u_nn, mat_nn, t_nn = s.solve(disc, network_input, rhs)
    spec = spectral_norm(ref.matrix, mat_nn)
    spec_ref = spectral_norm(ref.matrix)
    err = coarse_l2_error(ref.u_coarse, u_nn)
    out = Comparison(
        ref.u_coarse,
        u_nn,
        spec,
        err,
        l2_norm(ref.u_coarse),
        {**t_pglod, **{f"nnlod_{k}": v for k, v in t_nn.items()}},
        ref.local_matrices,
        s.local_matrices(network_input)[ref.elements],
        spec_ref,
    )
    ref.destroy()
    mat_nn.destroy()
    return out


@dataclass
class MonteCarloResult:
    """Means over samples of the FEM (fine nodes), PG-LOD and NN-LOD (coarse nodes) solutions."""

    n_samples: int
    mean_fem: np.ndarray | None
    mean_pglod: np.ndarray
    mean_nnlod: np.ndarray
    l2_errors: np.ndarray  # per sample: ‖u_PG-LOD − u_NN-LOD‖_{L2}, in sample order
    contrasts: np.ndarray
    #: Pointwise sample standard deviations (ddof 1) of ``fem``, ``pglod``, ``nnlod`` and of the
    #: paired differences ``nnlod_minus_pglod`` and ``pglod_minus_fem`` (at the coarse nodes):
    #: the same coefficients enter every method, so a difference of means is judged by the
    #: spread of the differences, far smaller than that of either solution.
    std: dict = field(default_factory=dict)

    def half_width(self, key: str, z: float = 1.96) -> np.ndarray:
        """Half-width of the pointwise confidence interval of the mean of ``key`` (95 %: z =
        1.96, normal approximation): z std / sqrt(M)."""
        return z * self.std[key] / np.sqrt(self.n_samples)


def monte_carlo(
    comm: MPI.Comm,
    surrogate: NNLODSurrogate,
    samples,
    rhs="one",
    fem: bool = True,
    progress: bool = False,
    patch_solver: PatchSolver | None = None,
) -> MonteCarloResult:
    """Monte Carlo means of the three solutions (paper 004, Sec. 6), parallel over samples.

    ``samples`` is a sequence of objects with ``.coefficient`` and ``.network_input`` (or a
    callable ``i -> sample`` with ``len``); sample i is solved on rank ``i % comm.size`` on
    COMM_SELF, and the sums are reduced on all ranks. One corrector set-up (``patch_solver``,
    made here if not given) serves every sample.

    Parameters
    ----------
    comm : MPI.Comm
        Ranks that share the samples.
    surrogate : NNLODSurrogate
        The network's surrogate; its (N_H, n, ℓ, d) set the discretization.
    samples : sequence
        Objects with ``.coefficient`` and ``.network_input`` (fine-cell arrays of shape
        ``(N_H n,) * d``, ``[iy, ix]``), e.g. from ``nn_compress.sample``.
    rhs : str
        Right-hand side f, a name of ``lod_fenicsx.RHS``.
    fem : bool
        Also solve the fine Q1 FEM reference of every sample (the costly part).
    progress : bool
        Show a progress bar on rank 0.
    patch_solver : PatchSolver, optional
        A corrector set-up for the same (N_H, n, ℓ, d), to reuse.

    Returns
    -------
    MonteCarloResult
        The means of the FEM solution on the fine nodes (``None`` without ``fem``) and of the
        PG-LOD and NN-LOD solutions on the coarse nodes, shape ``(N_H + 1,) * d``; the L²
        error between the two of every sample and every sample's contrast, in sample order.
    """
    s = check_instance("surrogate", surrogate, NNLODSurrogate)
    if not hasattr(samples, "__len__") or not hasattr(samples, "__getitem__"):
        raise ArgumentTypeError(
            f"samples must be a sequence of samples (.coefficient, .network_input), got "
            f"{type(samples).__name__}"
        )
    if len(samples) == 0:
        raise ValueError("samples is empty: the means need at least one sample")
    rhs_function(rhs)
    fem, progress = check_flag("fem", fem), check_flag("progress", progress)
    check_instance("patch_solver", patch_solver, (PatchSolver, type(None)), "PatchSolver or None")
    disc = Discretization(MPI.COMM_SELF, s.n_coarse, s.n_sub, fine=fem, dim=s.dim)
    ps = patch_solver or PatchSolver(s.n_coarse, s.n_sub, s.ell, dim=s.dim)
    n = len(samples)
    nc, nf = (s.n_coarse + 1,) * s.dim, (s.n_coarse * s.n_sub + 1,) * s.dim
    sums = {"fem": np.zeros(nf), "pglod": np.zeros(nc), "nnlod": np.zeros(nc)}
    names = ("fem", "pglod", "nnlod", "nnlod_minus_pglod", "pglod_minus_fem")
    squares = {k: np.zeros(nf if k == "fem" else nc) for k in names}
    differences = {k: np.zeros(nc) for k in names[3:]}
    every = (slice(None, None, s.n_sub),) * s.dim  # the fine nodes at the coarse ones
    errors, contrasts = np.zeros(n), np.zeros(n)
    mine = range(comm.rank, n, comm.size)
    grid = (s.n_coarse, s.n_sub, s.ell)
    if progress and comm.rank == 0:
        from tqdm import tqdm

        mine = tqdm(mine, desc="Monte Carlo (rank 0)", unit="sample")
    try:
        with collective(comm):  # a sample failing on one rank ends them all: none waits
            for i in mine:
                smp = samples[i]
                a, x = np.asarray(smp.coefficient), np.asarray(smp.network_input)
                ref = pglod_solve(MPI.COMM_SELF, a, *grid, rhs=rhs, disc=disc, patch_solver=ps)
                u_nn, mat, _ = s.solve(disc, x, rhs)
                sums["pglod"] += ref.u_coarse
                sums["nnlod"] += u_nn
                values = {
                    "pglod": ref.u_coarse,
                    "nnlod": u_nn,
                    "nnlod_minus_pglod": u_nn - ref.u_coarse,
                }
                if fem:
                    u_fun, u_fine = fine_solve(disc, a, rhs)
                    sums["fem"] += u_fine
                    values |= {"fem": u_fine, "pglod_minus_fem": ref.u_coarse - u_fine[every]}
                for key, v in values.items():
                    squares[key] += v * v
                    if key in differences:
                        differences[key] += v
                errors[i] = coarse_l2_error(ref.u_coarse, u_nn)
                contrasts[i] = a.max() / a.min()
                ref.destroy()
                mat.destroy()
    finally:
        if patch_solver is None:
            ps.close()
    total = {k: comm.allreduce(v, op=MPI.SUM) for k, v in sums.items()}
    total |= {k: comm.allreduce(v, op=MPI.SUM) for k, v in differences.items()}
    errors = comm.allreduce(errors, op=MPI.SUM)
    contrasts = comm.allreduce(contrasts, op=MPI.SUM)
    std = {}
    for key in names if fem else ("pglod", "nnlod", "nnlod_minus_pglod"):
        second = comm.allreduce(squares[key], op=MPI.SUM)
        spread = second - total[key] ** 2 / n  # Σ (v − mean)²
        std[key] = np.sqrt(np.maximum(spread, 0.0) / max(n - 1, 1))
    return MonteCarloResult(
        n,
        total["fem"] / n if fem else None,
        total["pglod"] / n,
        total["nnlod"] / n,
        errors,
        contrasts,
        std,
    )
