"""Training of the fine-scale network, Alg. 1: plain PINN ("pinn") or hybrid with the coarse
adjoint ("hybrid"), full-batch Adam, several seeds trained side by side, checkpoint and resume.

One dataclass, ``TrainingConfig``, holds every hyperparameter and the seeds; it is saved with
each checkpoint together with the network (including the Fourier matrices B), the optimiser,
the RNG states, the iteration counter, the log and the wall time spent. The readings of the
paper that its text leaves open are named options of the configuration (see its docstring):
the Fourier-feature convention, the learning-rate schedule, the coupling term (11)/(16) and the
coarse mesh.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from plumbing.checkpoint import (
    NonFiniteLossError,
    exclusive_folder,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
)
from plumbing.checks import (
    ArgumentTypeError,
    check_choice,
    check_device,
    check_flag,
    check_instance,
    check_optional_size,
    check_path,
    check_real,
    check_size,
)
from plumbing.threads import limit_threads

from .coarse import COARSE_MESHES, COARSE_SOLVERS, CoarseProblem, CoarseState
from .losses import (
    COMPRESSIONS,
    COUPLING_NORMS,
    COUPLINGS,
    PINN_QUADRATURES,
    collocation_points,
    compression_operator,
    coupling_loss,
    coupling_matrix,
    derivatives,
    k_tilde,
    pinn_loss,
    pinn_residual,
)
from .network import (
    BIAS_INITS,
    FOURIER_CONVENTIONS,
    MLP,
    HardDirichlet,
    MultiscaleFourierNet,
    check_scales,
)
from .problem import check_eps
from .reference import fine_reference

__all__ = [
    "SCHEDULES",
    "LearningRateSchedule",
    "TrainingConfig",
    "Trainer",
    "NonFiniteLossError",
    "paper_config",
    "build_network",
    "limit_threads",
    "TABLE_1",
]

log = logging.getLogger("hybrid_pinn")


def logged_wall_times(history: list[dict]) -> dict[int, float]:
    """Iteration -> seconds of training so far, at the start and at every logged iteration."""
    return {0: 0.0} | {entry["iteration"]: entry["wall_time"] for entry in history}


@dataclass(frozen=True)
class LearningRateSchedule:
    """lr(k) = lr0 * decay^(k / every), with k / every rounded down when ``staircase``, times
    min(1, (k + 1) / warmup) when ``warmup`` > 0 (a linear warm-up; not in the paper)."""

    lr0: float
    decay: float = 1.0
    every: int = 1000
    staircase: bool = False
    warmup: int = 0

    def __call__(self, iteration: int) -> float:
        exponent = iteration // self.every if self.staircase else iteration / self.every
        ramp = min(1.0, (iteration + 1) / self.warmup) if self.warmup else 1.0
        return ramp * self.lr0 * self.decay**exponent


# Readings of Sec. 4.5's "learning rate initialized as 5e-4, with a decay-rate of 0.75 every 1000
# training iterations". As written (stepped) it leaves 5e-4 * 0.75^30 = 9e-8 at 30 000 iterations,
# so Table 2's 53 000-120 000-iteration runs suggest another reading.
#: Named learning-rate schedules (``TrainingConfig.schedule``): name -> LearningRateSchedule.
SCHEDULES = {
    "stepped": LearningRateSchedule(5e-4, 0.75, 1000, staircase=True),  # as written, a staircase
    "continuous": LearningRateSchedule(5e-4, 0.75, 1000),  # as written, decayed every iteration
    "per-10000": LearningRateSchedule(
        5e-4, 0.75, 10000
    ),  # "1000" counted in units of 10 iterations
    "wang": LearningRateSchedule(1e-3, 0.9, 1000),  # Wang, Wang & Perdikaris' multiscale code
    "constant": LearningRateSchedule(5e-4),
}

# Table 1 (and Sec. 4.5: N_h) for eps = 1/16, 1/48, 1/64.
#: Table 1 of the hybrid paper: 1/eps -> its settings (window, network, M, tau_2, N_h, activation).
TABLE_1 = {
    16: dict(
        window=3, depth=2, width=100, n_collocation=280, tau2=10.0, n_coarse=50, activation="tanh"
    ),
    48: dict(
        window=1, depth=2, width=100, n_collocation=840, tau2=1000.0, n_coarse=50, activation="tanh"
    ),
    64: dict(
        window=1,
        depth=2,
        width=150,
        n_collocation=1000,
        tau2=1200.0,
        n_coarse=64,
        activation="swish",
    ),
}

# Fields that may change when a run is resumed; every other field must match the checkpoint's.
# ``solver`` and ``device`` only decide where the same arithmetic runs (tests: equal to round-off),
# so a run started on the GPU machine may be continued or summarised here.
RESUMABLE_FIELDS = (
    "iterations",
    "log_every",
    "checkpoint_every",
    "checkpoint_dir",
    "threads",
    "solver",
    "device",
)


@dataclass
class TrainingConfig:
    """Every hyperparameter of a run (Table 1 and Sec. 4.5) and the readings the text leaves open.

    The readings are named options, each varied one at a time in
    demos/results/hybrid_1d/README.md. Every field is checked on construction; ``paper_config``
    fills in Table 1.

    Parameters
    ----------
    eps : float
        The period of K_eps, in (0, 1].
    method : str
        ``"hybrid"`` (Alg. 1) or ``"pinn"`` (Ms-PINN / V-PINN without coupling).
    architecture : str
        ``"fourier"`` (Ms-PINN, ``MultiscaleFourierNet``) or ``"mlp"`` (V-PINN, ``MLP``).
    depth, width : int
        Hidden layers and their width.
    n_features : int, optional
        m rows of each B^(k); the paper gives no m. None: ``width // 2`` (embedding 2m = width).
    scales : tuple of float, optional
        rho_k; None means (1, 1/eps).
    fourier : str
        ``"angular"`` (default): F = (cos B x, sin B x), B ~ N(0, rho^2), as in the public code of
        Wang, Wang & Perdikaris that Sec. 4.4 cites for the architecture. ``"literal"``:
        F = (cos 2 pi B x, sin 2 pi B x) as printed. The default is the reading that reaches the
        paper's error at eps = 1/16; with the literal one the error stalls near 2 (README).
    trainable_b : bool
        Train the Fourier matrices B^(k) too.
    activation : str
        ``"tanh"`` or ``"swish"`` (Table 1).
    n_collocation : int
        M, the equidistant collocation points of J (at least 2).
    shift_collocation : bool
        Shift the grid by one random offset in [-1/2, 1/2)/M every step (not in the paper): a
        fixed grid lets the Fourier-feature network alias, small J at the points only.
    n_coarse : int
        N_h of the coarse problem.
    coarse_mesh : str
        ``"nodes"`` (default): N_h nodes, dim Y_h = N_h (Sec. 4.4);
        ``"cells"``: h = 1/N_h (Sec. 4.5).
    window : int
        omega_av of the moving average (59)-(60), in [0, number of coarse nodes).
    coupling : str
        ``"11"`` (default): R = tau_2 ||Qbar v - y_h||^2, the term Sec. 4.4 uses for Table 2;
        ``"16"``: R = tau_2 ||Qbar (v - y_h)||^2.
    compression : str
        Qbar_delta (``hybrid_pinn.losses.COMPRESSIONS``): ``"nodes"`` (default), the moving
        average (59)-(60) over omega_av nodes on each side, cut off near the ends;
        ``"centred"``, its window shrunk near the ends to stay centred on x_i; ``"exact"``, the
        mean (10) of v over [x - delta/2, x + delta/2] (a midpoint rule of 16 points).
    coupling_norm : str
        ``"mass"`` (default): R_delta in the L^2 norm of the P1 gap (M_h, Sec. 4.4);
        ``"nodal"``: the nodal norm ||.||_{H_h} of Sec. 3.1 (trapezoidal weights).
    pinn_quadrature : str
        ``"mean"`` (default): J with the weights 1/M of the uniform quadrature rule (Sec. 4.4);
        ``"sum"``: weights 1, J times M (Sec. 3.1 leaves w_i^r open).
    tau2 : float
        The coupling weight tau_2 > 0.
    tau2_switch : tuple of (int, float), optional
        (iteration, new tau2), cf. the V-PINN run of Fig. 2.
    schedule : str
        A key of ``SCHEDULES``; ``lr`` and ``decay_every`` override its initial rate and period.
        Default ``"constant"`` (5e-4, no decay): none of the readings reaches the paper's error at
        eps = 1/16 in 30 000 iterations; the constant rate came closest together with Wang et al.'s
        (final errors, seeds 0 / 1: constant 0.105 / 0.154, wang 0.180 / 0.138, per-10000
        0.244 / 0.180, stepped and continuous higher), and it is the one reading that keeps moving
        over Table 2's 53 000-120 000 iterations, where the error falls at a steady rate.
    lr : float, optional
        Initial learning rate (default: the schedule's).
    decay_every : int, optional
        Decay period in iterations (default: the schedule's).
    warmup : int
        Iterations of a linear learning-rate warm-up (not in the paper; 0: none). Without it the
        first ~50 Adam steps leave the smooth part of v at about -2 times u's (README, 1/48).
    boundary_factor : str
        The hard Dirichlet factor l of v = l vbar: ``"quadratic"`` x (1 - x) (Sec. 4.4) or
        ``"flat"`` (tanh boundary layers of width ``boundary_layer``; not in the paper).
    boundary_layer : float
        The layer width of ``"flat"``.
    bias_init, normalize_input : str, bool
        Two choices of Wang et al.'s code the paper does not state: biases from N(0, 1) instead
        of zeros (``"normal"``), and the input standardised before the Fourier embedding.
        Defaults: zero biases, x as it is.
    betas : tuple of float
        Adam's betas.
    iterations : int
        Iterations of the run in total.
    log_every, checkpoint_every : int
        Iterations between log entries (with the relative errors) and between checkpoints.
    n_reference : int
        Nodes of the fine reference (the paper's 1000).
    seeds : tuple of int
        One network member per seed, trained side by side (``hybrid_pinn.network``).
    dtype : str
        ``"float32"`` (JAX's default, the paper's framework) or ``"float64"``.
    derivatives : str
        v', v'' by the closed-form jet of the network (``"jet"``) or by double-backward autograd
        (``"autograd"``, one seed only; the slower reference, kept for the benchmark and checks).
    threads : int
        Torch and BLAS threads (``plumbing.threads.limit_threads``).
    checkpoint_dir : str, optional
        Where ``Trainer`` checkpoints (None: only on request).
    solver : str
        ``"petsc"`` (default: DOLFINx + PETSc for the coarse problem and the fine reference) or
        ``"scipy"`` (the same matrices in closed form, for machines without DOLFINx and PETSc).
    device : str
        Where the network trains (``"cpu"``, ``"cuda"``); the coarse solves stay on the CPU.

    Raises
    ------
    ValueError
        If a field is out of its range or not one of its choices; the message names the field
        and what it may be.

    Examples
    --------
    >>> config = TrainingConfig(eps=1 / 16, seeds=(0, 1), solver="scipy")
    >>> config.n_features, config.learning_rate(0)
    (50, 0.0005)
    """

    eps: float = 1.0 / 16.0
    method: str = "hybrid"  # "hybrid" (Alg. 1) or "pinn" (Ms-PINN / V-PINN without coupling)
    architecture: str = "fourier"  # "fourier" (Ms-PINN) or "mlp" (V-PINN)
    depth: int = 2
    width: int = 100
    # m rows of each B^(k); the paper gives no m. None: width // 2 (embedding 2m = width)
    n_features: int | None = None
    scales: tuple[float, ...] | None = None  # rho_k; None means (1, 1/eps)
    fourier: str = "angular"
    trainable_b: bool = False
    activation: str = "tanh"
    n_collocation: int = 280  # M
    # Shift the equidistant grid by one random offset in [-1/2, 1/2)/M every step (not in the
    # paper): a fixed grid lets the Fourier-feature network alias, small J at the points only.
    shift_collocation: bool = False
    n_coarse: int = 50  # N_h
    coarse_mesh: str = "nodes"
    window: int = 3  # omega_av
    coupling: str = "11"
    compression: str = "nodes"
    coupling_norm: str = "mass"
    pinn_quadrature: str = "mean"
    tau2: float = 10.0
    tau2_switch: tuple[int, float] | None = (
        None  # (iteration, new tau2), cf. the V-PINN run of Fig. 2
    )
    schedule: str = "constant"
    lr: float | None = None
    decay_every: int | None = None
    # Iterations of a linear learning-rate warm-up (not in the paper; 0: none). Without it the
    # first ~50 Adam steps leave the smooth part of v at about -2 times u's (README, eps = 1/48).
    warmup: int = 0
    # The hard Dirichlet factor l of v = l vbar: "quadratic" x (1 - x) (Sec. 4.4) or "flat"
    # (tanh boundary layers of width ``boundary_layer``; not in the paper).
    boundary_factor: str = "quadratic"
    boundary_layer: float = 0.05
    bias_init: str = "zeros"
    normalize_input: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    iterations: int = 1000
    log_every: int = 200
    checkpoint_every: int = 1000
    n_reference: int = 1000
    seeds: tuple[int, ...] = (0,)
    dtype: str = "float32"
    # v', v'' by the closed-form jet of the network ("jet") or by double-backward autograd
    # ("autograd", one seed only; the slower reference, kept for the benchmark and checks).
    derivatives: str = "jet"
    threads: int = 1
    checkpoint_dir: str | None = None
    solver: str = "petsc"
    device: str = "cpu"

    def __post_init__(self):
        check_eps(self.eps)
        for name in ("depth", "width", "n_coarse", "log_every", "checkpoint_every", "n_reference"):
            check_size(name, getattr(self, name))
        check_size("threads", self.threads)
        if self.n_features is None:
            self.n_features = self.width // 2
        check_size("n_features", self.n_features)
        check_size("n_collocation", self.n_collocation, 2)  # M >= 2 collocation points
        check_size("warmup", self.warmup, 0)
        check_size("iterations", self.iterations, 0)
        check_optional_size("decay_every", self.decay_every)
        choices = dict(
            method=("hybrid", "pinn"),
            architecture=("fourier", "mlp"),
            fourier=tuple(FOURIER_CONVENTIONS),
            activation=("tanh", "swish"),
            coarse_mesh=tuple(COARSE_MESHES),
            coupling=COUPLINGS,
            compression=COMPRESSIONS,
            coupling_norm=COUPLING_NORMS,
            pinn_quadrature=PINN_QUADRATURES,
            schedule=tuple(SCHEDULES),
            dtype=("float32", "float64"),
            derivatives=("jet", "autograd"),
            solver=COARSE_SOLVERS,
            boundary_factor=HardDirichlet.FACTORS,
            bias_init=BIAS_INITS,
        )
        for name, allowed in choices.items():
            check_choice(name, getattr(self, name), allowed)
        for name in ("trainable_b", "shift_collocation", "normalize_input"):
            check_flag(name, getattr(self, name))
        check_real("tau2", self.tau2, positive=True)
        if self.lr is not None:
            check_real("lr", self.lr, positive=True)
        check_real("boundary_layer", self.boundary_layer, positive=True)
        if self.tau2_switch is not None:
            if isinstance(self.tau2_switch, (str, bytes)) or len(self.tau2_switch) != 2:
                raise ArgumentTypeError(
                    f"tau2_switch must be (iteration, new tau2), got {self.tau2_switch!r}"
                )
            it, tau = self.tau2_switch
            self.tau2_switch = (
                check_size("tau2_switch iteration", it, 0),
                check_real("tau2_switch tau2", tau, positive=True),
            )
        n_nodes = COARSE_MESHES[self.coarse_mesh](self.n_coarse)
        if not 0 <= check_size("window", self.window, 0) < n_nodes:
            raise ValueError(
                f"window omega_av must be an integer in [0, {n_nodes}) (the coarse nodes), "
                f"got {self.window!r}"
            )
        if isinstance(self.seeds, (str, bytes)) or not hasattr(self.seeds, "__iter__"):
            raise ArgumentTypeError(f"seeds must be a list of integers, got {self.seeds!r}")
        self.seeds = tuple(check_size("seeds", s, 0) for s in self.seeds)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(
                f"seeds must be a non-empty list of distinct integers, got {self.seeds!r}"
            )
        if self.derivatives == "autograd" and len(self.seeds) != 1:
            raise ValueError(f"derivatives='autograd' trains one seed; got seeds {self.seeds}")
        if self.scales is not None:
            self.scales = check_scales(self.scales)
        if isinstance(self.betas, (str, bytes)) or len(self.betas) != 2:
            raise ArgumentTypeError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(check_real("betas", b, least=0.0) for b in self.betas)
        if max(self.betas) >= 1.0:
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.checkpoint_dir is not None:
            check_path("checkpoint_dir", self.checkpoint_dir)
        check_device("device", self.device)

    @property
    def learning_rate(self) -> LearningRateSchedule:
        """The schedule reading with the ``lr`` / ``decay_every`` overrides applied."""
        base = SCHEDULES[self.schedule]
        return dataclasses.replace(
            base,
            lr0=self.lr or base.lr0,
            every=self.decay_every or base.every,
            warmup=self.warmup,
        )

    def same_run(self, other: TrainingConfig) -> list[str]:
        """Fields (other than ``RESUMABLE_FIELDS``) in which two configurations differ."""
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return [k for k in a if k not in RESUMABLE_FIELDS and a[k] != b[k]]


def paper_config(
    eps_inverse: int, method: str = "hybrid", architecture: str = "fourier", **overrides
) -> TrainingConfig:
    """The configuration of Table 1 (and Sec. 4.5) for eps = 1/16, 1/48 or 1/64.

    Parameters
    ----------
    eps_inverse : int
        1/eps: 16, 48 or 64 (the keys of ``TABLE_1``).
    method : str
        ``"hybrid"`` or ``"pinn"``.
    architecture : str
        ``"fourier"`` or ``"mlp"``; ``"mlp"`` takes Fig. 2's tau_2 = 5e5 for 14 500 iterations,
        then 5e2.
    **overrides
        Any other ``TrainingConfig`` field (``seeds``, ``iterations``, ...), applied last.

    Returns
    -------
    TrainingConfig

    Raises
    ------
    ValueError
        If Table 1 has no such eps, or a field is invalid.

    Examples
    --------
    >>> config = paper_config(16, seeds=(0, 1), iterations=100)
    >>> config.n_collocation, config.tau2, config.n_coarse
    (280, 10.0, 50)
    """
    if isinstance(eps_inverse, bool) or eps_inverse not in TABLE_1:
        raise ValueError(
            f"eps_inverse must be one of {', '.join(map(str, TABLE_1))} (Table 1 has eps = 1/16, "
            f"1/48, 1/64); got {eps_inverse!r}"
        )
    settings = dict(TABLE_1[eps_inverse])
    if architecture == "mlp":  # Fig. 2: V-PINN, tau2 = 5e5 for 14500 iterations then 5e2
        settings.update(tau2=5e5, tau2_switch=(14500, 5e2))
    settings.update(overrides)
    return TrainingConfig(
        eps=1.0 / eps_inverse, method=method, architecture=architecture, **settings
    )


def build_network(config: TrainingConfig) -> nn.Module:
    """The network of the configuration, one member per seed, inside the configured hard
    Dirichlet factor (x (1 - x) by default)."""
    generators = [torch.Generator().manual_seed(seed) for seed in config.seeds]
    if config.architecture == "fourier":
        scales = config.scales if config.scales is not None else (1.0, 1.0 / config.eps)
        body = MultiscaleFourierNet(
            scales,
            config.n_features,
            config.depth,
            config.width,
            config.activation,
            config.trainable_b,
            convention=config.fourier,
            n_models=len(config.seeds),
            generators=generators,
            bias_init=config.bias_init,
            normalize_input=config.normalize_input,
        )
    else:
        body = MLP(
            config.depth,
            config.width,
            config.activation,
            n_models=len(config.seeds),
            generators=generators,
            bias_init=config.bias_init,
        )
    return HardDirichlet(body, config.boundary_factor, config.boundary_layer)


@dataclass
class StepResult:
    """Per-member values of one iteration (arrays of length n_models)."""

    loss: np.ndarray
    pinn: np.ndarray
    coupling: np.ndarray
    k_tilde: np.ndarray
    fallback: np.ndarray


@dataclass
class Trainer:
    """Alg. 1 for problem (57), all seeds of the configuration at once.

    ``network`` replaces the configured one (tests); it must offer ``jet(x)`` -> (S, 3, M) and
    ``forward(x)`` -> (S, M) as the networks of ``hybrid_pinn.network`` do.

    Construction builds the network (one member per seed), Adam, the collocation points, the
    coarse problem with its compression Qbar and the fine reference. ``train()`` runs Alg. 1,
    logging to ``history`` and checkpointing to ``config.checkpoint_dir``;
    ``Trainer.resume_or_start(config)`` continues a checkpointed run of the same configuration.

    Parameters
    ----------
    config : TrainingConfig
        Every hyperparameter and seed.
    network : torch.nn.Module, optional
        A network to train instead of the configured one.
    iteration : int
        Iterations done (restored from checkpoints).
    history : list of dict
        One entry per logged iteration: ``iteration``, ``loss``, ``pinn``, ``coupling``,
        ``k_tilde``, ``rel_l2`` (one value per seed each), ``lr``, ``tau2``, ``wall_time``.
    fallbacks : list of (int, int)
        (iteration, member) of the steps in which a member's K~ <= 0 gave a plain PINN step.
    wall_time : float
        Seconds of training so far.
    segments : list of dict
        Where the iterations ran: ``{"start", "device", "solver"}``, one entry per change.

    Raises
    ------
    NonFiniteLossError
        From ``step()``/``train()``, if a loss is not finite (the last good state is saved).

    Examples
    --------
    Ten iterations of a small hybrid run (closed-form coarse solver, no DOLFINx):

    >>> trainer = Trainer(paper_config(16, seeds=(0,), iterations=10, width=20, solver="scipy"))
    >>> history = trainer.train()
    >>> trainer.iteration, trainer.relative_error().shape
    (10, (1,))
    """

    config: TrainingConfig
    network: nn.Module | None = None
    iteration: int = 0
    history: list[dict] = field(default_factory=list)
    fallbacks: list[tuple[int, int]] = field(default_factory=list)  # (iteration, member)
    wall_time: float = 0.0
    # Where the iterations ran: {"start": first iteration, "device", "solver"}, one entry per
    # change (a run begun on the GPU machine and continued here has two).
    segments: list[dict] = field(default_factory=list)

    def __post_init__(self):
        c = check_instance("config", self.config, TrainingConfig)
        check_instance("network", self.network, (nn.Module, type(None)), "torch.nn.Module or None")
        self.iteration = check_size("iteration", self.iteration, 0)
        self.wall_time = check_real("wall_time", self.wall_time, least=0.0)
        self.dtype = getattr(torch, c.dtype)
        self.device = torch.device(c.device)
        limit_threads(c.threads)
        # The global RNG draws only the shifted grids; the networks use one generator per seed.
        torch.manual_seed(c.seeds[0])
        if self.network is None:
            self.network = build_network(c)
        self.network = self.network.to(self.device, self.dtype)
        self.schedule = c.learning_rate
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=self.schedule(0), betas=c.betas
        )
        on_device = dict(dtype=self.dtype, device=self.device)
        self.x = collocation_points(c.n_collocation, self.dtype).to(self.device)
        self.coarse = CoarseProblem(c.n_coarse, mesh_reading=c.coarse_mesh, solver=c.solver)
        self.x_coarse = torch.as_tensor(self.coarse.nodes, **on_device)
        compression = compression_operator(self.coarse.nodes, c.window, c.eps, c.compression)
        # Qbar v at the nodes = average @ v(x_compression); interpolation takes y_h there
        self.x_compression = torch.as_tensor(compression.points, **on_device)
        self.average = torch.as_tensor(compression.matrix, **on_device)
        self.interpolation = torch.as_tensor(compression.interpolation, **on_device)
        self.mass = torch.as_tensor(coupling_matrix(self.coarse.mass, c.coupling_norm), **on_device)
        self.reference = fine_reference(c.eps, c.n_reference, solver=c.solver)
        self.x_reference = torch.as_tensor(self.reference.nodes, **on_device)

    # -- one iteration -------------------------------------------------------------------------
    def tau2(self) -> float:
        switch = self.config.tau2_switch
        return switch[1] if switch is not None and self.iteration >= switch[0] else self.config.tau2

    def objective(self) -> tuple[torch.Tensor, StepResult]:
        """Sum over members of J^{M,h}(theta) = J + R_delta (hybrid, K~ > 0), or J alone (pinn, or a
        member whose K~ <= 0: no coercivity of the coarse form, so a plain PINN step, Sec. 4.3)."""
        c = self.config
        x = self.x
        if c.shift_collocation:
            x = x + (torch.rand((), dtype=self.dtype).to(self.device) - 0.5) / c.n_collocation
        if c.derivatives == "jet":
            jet = self.network.jet(x)
            dv, d2v = jet[:, 1], jet[:, 2]
        else:
            _, dv, d2v = derivatives(lambda z: self.network(z)[0], x)
            dv, d2v = dv[None], d2v[None]
        pinn = pinn_loss(pinn_residual(dv, d2v, x, c.eps), c.pinn_quadrature)
        k = k_tilde(dv, x, c.eps)
        coupling = torch.zeros_like(pinn)
        fallback = np.zeros(len(pinn), dtype=bool)
        if c.method == "hybrid":
            coercive = k.detach() > 0.0
            fallback = ~coercive.cpu().numpy()
            for member in np.flatnonzero(fallback):
                log.warning(
                    "iteration %d, seed %d: K~[v_theta] = %.4g <= 0, plain PINN step",
                    self.iteration,
                    c.seeds[member],
                    k[member].item(),
                )
                self.fallbacks.append((self.iteration, int(member)))
            if coercive.any():
                # The state without coarse_state's argument checks: an inf K~ here ends in the
                # NonFiniteLossError of step(), which saves the last good state.
                y = CoarseState.apply(torch.where(coercive, k, torch.ones_like(k)), self.coarse)
                v_points = self.network(self.x_compression)
                coupling = coercive * coupling_loss(
                    v_points,
                    y,
                    self.average,
                    self.mass,
                    self.tau2(),
                    c.coupling,
                    self.interpolation,
                )
        total = pinn + coupling
        detach = lambda t: t.detach().double().cpu().numpy().copy()  # noqa: E731
        coupling_values = detach(coupling)
        if c.method == "pinn":
            coupling_values[:] = np.nan
        coupling_values[fallback] = np.nan
        return total.sum(), StepResult(
            detach(total), detach(pinn), coupling_values, detach(k), fallback
        )

    def step(self) -> StepResult:
        """One Adam step of Alg. 1 (adjoint + autograd gradient, eq. 25)
        at lr = schedule(iteration)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, result = self.objective()
        if not np.all(np.isfinite(result.loss)):
            path = self.save_checkpoint(tag="last_good")
            bad = [self.config.seeds[i] for i in np.flatnonzero(~np.isfinite(result.loss))]
            raise NonFiniteLossError(
                f"non-finite loss at iteration {self.iteration} for seeds {bad} "
                f"(eps={self.config.eps}, method={self.config.method}); "
                f"the last good state is saved in {path}. "
                "Lower lr or tau2 and resume from it."
            )
        loss.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule(self.iteration)
        self.optimizer.step()
        self.iteration += 1
        return result

    # -- monitoring ----------------------------------------------------------------------------
    def prediction(self, x: torch.Tensor | None = None) -> np.ndarray:
        """v_theta of every member at x (default: the reference nodes), shape (S, len(x))."""
        with torch.no_grad():
            return self.network(self.x_reference if x is None else x).double().cpu().numpy()

    def relative_error(self) -> np.ndarray:
        """Relative discrete L^2 error of each member against the fine FEM reference
        (1000 nodes, Sec. 4.5)."""
        u = self.reference.values
        return np.linalg.norm(self.prediction() - u, axis=-1) / np.linalg.norm(u)

    def train(self, iterations: int | None = None, callback=None) -> list[dict]:
        """Run until ``iterations`` (default config.iterations) in total; log and
        checkpoint on the way.

        With a ``checkpoint_dir``, the run holds that folder while it trains
        (``plumbing.checkpoint.exclusive_folder``): a second run on it is refused in one line
        naming the folder and the other process, before it writes anything there. (To hold it
        from the resume on as well, hold it around ``resume_or_start``, as ``train_run`` does.)
        """
        if self.config.checkpoint_dir is None:
            return self._train(iterations, callback)
        with exclusive_folder(self.config.checkpoint_dir, option="checkpoint_dir"):
            return self._train(iterations, callback)

    def _train(self, iterations: int | None, callback) -> list[dict]:
        c = self.config
        end = c.iterations if iterations is None else int(iterations)
        where = {"device": str(self.device), "solver": c.solver}
        if self.iteration < end and (
            not self.segments or {k: self.segments[-1][k] for k in where} != where
        ):
            self.segments.append({"start": self.iteration, **where})
        start = time.perf_counter()
        while self.iteration < end:
            result = self.step()
            it = self.iteration
            if it % c.log_every == 0 or it == end:
                self.wall_time += time.perf_counter() - start
                start = time.perf_counter()
                entry = dict(
                    iteration=it,
                    loss=result.loss.tolist(),
                    pinn=result.pinn.tolist(),
                    coupling=result.coupling.tolist(),
                    k_tilde=result.k_tilde.tolist(),
                    rel_l2=self.relative_error().tolist(),
                    lr=self.schedule(it - 1),
                    tau2=self.tau2(),
                    wall_time=self.wall_time,
                )
                self.history.append(entry)
                log.info(
                    "it %6d  J %s  R %s  K~ %s  relL2 %s  (%.0f s)",
                    it,
                    _fmt(entry["pinn"], "%.3e"),
                    _fmt(entry["coupling"], "%.3e"),
                    _fmt(entry["k_tilde"], "%.4f"),
                    _fmt(entry["rel_l2"], "%.4f"),
                    self.wall_time,
                )
                if callback is not None:
                    callback(self, entry)
            if c.checkpoint_dir is not None and it % c.checkpoint_every == 0:
                self.save_checkpoint()
        self.wall_time += time.perf_counter() - start
        return self.history

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return dict(
            config=dataclasses.asdict(self.config),
            network=self.network.state_dict(),
            optimizer=self.optimizer.state_dict(),
            rng=rng_state(),
            iteration=self.iteration,
            history=self.history,
            fallbacks=self.fallbacks,
            wall_time=self.wall_time,
            segments=self.segments,
        )

    def save_checkpoint(self, path: str | None = None, tag: str = "last") -> str:
        """Write the full state atomically; default path ``<checkpoint_dir>/<tag>.pt``."""
        if path is None:
            directory = self.config.checkpoint_dir or "checkpoints"
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{tag}.pt")
        save_atomic(self.state_dict(), path)
        return path

    @staticmethod
    def saved_config(path: str, state: dict | None = None, **where) -> TrainingConfig:
        """The configuration stored in a checkpoint (``state``: the checkpoint, when already
        loaded), with ``where`` (``RESUMABLE_FIELDS``) replacing the saved values before the
        configuration is checked: a run saved on the GPU machine (device 'cuda') is read here."""
        if state is None:
            state = load_checkpoint(path)
        settings = {**state["config"], **where}
        for key in ("scales", "betas", "tau2_switch", "seeds"):
            if settings.get(key) is not None:
                settings[key] = tuple(settings[key])
        return TrainingConfig(**settings)

    @classmethod
    def from_checkpoint(cls, path: str, network: nn.Module | None = None, **overrides) -> Trainer:
        """Resume: rebuild from the saved config, then restore every state
        (network incl. B, RNG, ...).

        Only ``RESUMABLE_FIELDS`` (the iteration budget, logging, checkpoint place, threads,
        solver, device) may be overridden.
        """
        not_resumable = sorted(set(overrides) - set(RESUMABLE_FIELDS))
        if not_resumable:
            raise ValueError(
                f"{path}: {', '.join(not_resumable)} cannot change on resume; start a new run"
            )
        state = load_checkpoint(path)
        config = cls.saved_config(path, state, **overrides)
        trainer = cls(config, network=network)
        trainer.network.load_state_dict(state["network"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        trainer.iteration = state["iteration"]
        trainer.history = list(state["history"])
        trainer.fallbacks = [tuple(f) for f in state["fallbacks"]]
        saved = state["config"]  # checkpoints older than the segments: one, where it last ran
        first = {"start": 0, "device": saved["device"], "solver": saved["solver"]}
        trainer.segments = list(state.get("segments") or ([first] if trainer.iteration else []))
        trainer.wall_time = float(state.get("wall_time", 0.0))
        return trainer

    @staticmethod
    def progress(path: str) -> dict:
        """Where the run checkpointed at ``path`` stands: iterations done and planned, the last
        logged relative errors per seed, seconds per iteration, when the file was written.

        The rate is that of the last device segment (e.g. the CPU part of a run begun on a GPU),
        when the wall time at its start was logged; else that of the whole run."""
        state = load_checkpoint(path)
        history = state["history"]
        done, wall = state["iteration"], float(state.get("wall_time", 0.0))
        start = (state.get("segments") or [{"start": 0}])[-1]["start"]
        logged = logged_wall_times(history)
        if start not in logged or start >= done:
            start = 0
        return {
            "eps": state["config"]["eps"],
            "method": state["config"]["method"],
            "iterations": done,
            "planned": state["config"]["iterations"],
            "rel_l2": history[-1]["rel_l2"] if history else None,
            "seconds_per_iteration": (wall - logged[start]) / (done - start) if done else None,
            "written": os.path.getmtime(path),
        }

    @classmethod
    def resume_or_start(cls, config: TrainingConfig) -> Trainer:
        """Continue ``<config.checkpoint_dir>/last.pt`` if it holds the same run, else start afresh.

        A checkpoint of a different run (any field outside ``RESUMABLE_FIELDS`` differs) is refused
        with the differing fields named, never silently continued or overwritten.
        """
        path = cls.check_resumable(config)
        if path is None:
            return cls(config)
        return cls.from_checkpoint(path, **{k: getattr(config, k) for k in RESUMABLE_FIELDS})

    @classmethod
    def check_resumable(cls, config: TrainingConfig) -> str | None:
        """``<config.checkpoint_dir>/last.pt`` when it holds the same run, None when there is
        none; a ValueError naming the differing fields when it holds a different run.

        Reads and never writes: a command checks every run it will train with it before it
        writes anything (``resume_or_start`` checks again when the run starts).
        """
        path = os.path.join(config.checkpoint_dir, "last.pt") if config.checkpoint_dir else None
        if path is None or not os.path.exists(path):
            return None
        overrides = {k: getattr(config, k) for k in RESUMABLE_FIELDS}
        saved = cls.saved_config(path, **overrides)
        differing = saved.same_run(config)
        if differing:
            described = ", ".join(
                f"{k}: {getattr(saved, k)!r} there, {getattr(config, k)!r} now" for k in differing
            )
            raise ValueError(
                f"{path} holds a different run ({described}); "
                "use another checkpoint folder or remove that one"
            )
        return path


def _fmt(values, pattern: str) -> str:
    return "[" + " ".join(pattern % v for v in values) + "]"
