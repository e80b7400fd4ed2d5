"""Training of the fine-scale network, Alg. 1: plain PINN ("pinn") or hybrid with the coarse
adjoint ("hybrid"), Adam with lr 5e-4 * 0.75^(it/1000), full batch, checkpoint and resume.

One dataclass, ``TrainingConfig``, holds every hyperparameter and the seed; it is saved with
each checkpoint together with the network (including the Fourier matrices B), the optimiser,
the scheduler, the RNG states, the iteration counter and the log.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lod_fenicsx.threads import set_blas_threads

from .coarse import CoarseProblem, coarse_state
from .losses import (
    collocation_points,
    coupling_loss,
    derivatives,
    k_tilde,
    moving_average_matrix,
    pinn_loss,
    pinn_residual,
)
from .network import MLP, HardDirichlet, MultiscaleFourierNet
from .problem import check_eps
from .reference import fine_reference

__all__ = ["TrainingConfig", "Trainer", "NonFiniteLossError", "paper_config", "limit_threads"]

log = logging.getLogger("hybrid_pinn")


def limit_threads(n: int = 1) -> None:
    """Limit torch and OpenBLAS threads: on small shared cores, spinning BLAS threads made a
    training step 10x slower, and ``torch.set_num_threads`` alone does not reach OpenBLAS."""
    torch.set_num_threads(n)
    set_blas_threads(n)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good state was saved before raising."""


@dataclass
class TrainingConfig:
    """Every hyperparameter of a run (Table 1 and Sec. 4.5)."""

    eps: float = 1.0 / 16.0
    method: str = "hybrid"  # "hybrid" (Alg. 1) or "pinn" (Ms-PINN / V-PINN without coupling)
    architecture: str = "fourier"  # "fourier" (Ms-PINN) or "mlp" (V-PINN)
    depth: int = 2
    width: int = 100
    n_features: int = 50  # m rows of each B^(k); the embedding has 2m = 100 entries
    scales: tuple[float, ...] | None = None  # rho_k; None means (1, 1/eps)
    trainable_b: bool = False
    activation: str = "tanh"
    n_collocation: int = 280  # M
    # Shift the equidistant grid by one random offset in [-1/2, 1/2)/M every step (not in the
    # paper): a fixed grid lets the Fourier-feature network alias, small J at the points only.
    shift_collocation: bool = False
    n_coarse: int = 50  # N_h
    window: int = 3  # omega_av
    tau2: float = 10.0
    tau2_switch: tuple[int, float] | None = None  # (iteration, new tau2), cf. the V-PINN run of Fig. 2
    lr: float = 5e-4
    lr_decay: float = 0.75
    lr_decay_every: int = 1000
    betas: tuple[float, float] = (0.9, 0.999)
    iterations: int = 1000
    log_every: int = 200
    checkpoint_every: int = 1000
    n_reference: int = 1000
    seed: int = 0
    dtype: str = "float32"
    threads: int = 1
    checkpoint_dir: str | None = None

    def __post_init__(self):
        check_eps(self.eps)
        if self.method not in ("hybrid", "pinn"):
            raise ValueError(f"method must be 'hybrid' or 'pinn', got {self.method!r}")
        if self.architecture not in ("fourier", "mlp"):
            raise ValueError(f"architecture must be 'fourier' or 'mlp', got {self.architecture!r}")
        for name in ("tau2", "lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if self.tau2_switch is not None:
            it, tau = self.tau2_switch
            if not (math.isfinite(tau) and tau > 0 and it >= 0):
                raise ValueError(f"tau2_switch must be (iteration >= 0, tau2 > 0), got {self.tau2_switch!r}")
            self.tau2_switch = (int(it), float(tau))
        for name in ("n_collocation", "n_coarse", "iterations", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_collocation < 2:
            raise ValueError(f"the number of collocation points M must be >= 2, got {self.n_collocation}")
        if int(self.window) != self.window or not 0 <= self.window < self.n_coarse:
            raise ValueError(
                f"window omega_av must be an integer in [0, N_h) = [0, {self.n_coarse}), got {self.window!r}"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.scales is not None:
            self.scales = tuple(float(s) for s in self.scales)
        self.betas = tuple(self.betas)


def paper_config(eps_inverse: int, method: str = "hybrid", architecture: str = "fourier", **overrides) -> TrainingConfig:
    """The configuration of Table 1 (and Sec. 4.5) for eps = 1/16, 1/48 or 1/64."""
    table = {
        16: dict(window=3, depth=2, width=100, n_collocation=280, tau2=10.0, n_coarse=50, activation="tanh"),
        48: dict(window=1, depth=2, width=100, n_collocation=840, tau2=1000.0, n_coarse=50, activation="tanh"),
        64: dict(window=1, depth=2, width=150, n_collocation=1000, tau2=1200.0, n_coarse=64, activation="swish"),
    }
    if eps_inverse not in table:
        raise ValueError(f"Table 1 has eps = 1/16, 1/48, 1/64; got 1/{eps_inverse}")
    settings = dict(table[eps_inverse], n_features=table[eps_inverse]["width"] // 2)
    if architecture == "mlp":  # Fig. 2: V-PINN, tau2 = 5e5 for 14500 iterations then 5e2
        settings.update(tau2=5e5, tau2_switch=(14500, 5e2))
    settings.update(overrides)
    return TrainingConfig(eps=1.0 / eps_inverse, method=method, architecture=architecture, **settings)


def build_network(config: TrainingConfig, generator: torch.Generator) -> nn.Module:
    """The network of the configuration wrapped in the hard Dirichlet factor x (1 - x)."""
    if config.architecture == "fourier":
        scales = config.scales if config.scales is not None else (1.0, 1.0 / config.eps)
        body = MultiscaleFourierNet(
            scales, config.n_features, config.depth, config.width, config.activation,
            config.trainable_b, generator=generator,
        )
    else:
        body = MLP(config.depth, config.width, config.activation)
    return HardDirichlet(body)


@dataclass
class StepResult:
    loss: float
    pinn: float
    coupling: float
    k_tilde: float
    fallback: bool


@dataclass
class Trainer:
    """Alg. 1 for problem (57). ``network`` replaces the configured one (used by tests)."""

    config: TrainingConfig
    network: nn.Module | None = None
    iteration: int = 0
    history: list[dict] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)

    def __post_init__(self):
        c = self.config
        self.dtype = getattr(torch, c.dtype)
        limit_threads(c.threads)
        torch.manual_seed(c.seed)
        np.random.seed(c.seed)
        generator = torch.Generator().manual_seed(c.seed)
        if self.network is None:
            self.network = build_network(c, generator)
        self.network = self.network.to(self.dtype)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=c.lr, betas=c.betas)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, c.lr_decay_every, gamma=c.lr_decay)
        self.x = collocation_points(c.n_collocation, self.dtype)
        self.coarse = CoarseProblem(c.n_coarse)
        self.x_coarse = torch.as_tensor(self.coarse.nodes, dtype=self.dtype).reshape(-1, 1)
        self.average = torch.as_tensor(moving_average_matrix(self.coarse.nodes, c.window, c.eps), dtype=self.dtype)
        self.mass = torch.as_tensor(self.coarse.mass, dtype=self.dtype)
        self.reference = fine_reference(c.eps, c.n_reference)
        self.x_reference = torch.as_tensor(self.reference.nodes, dtype=self.dtype).reshape(-1, 1)
        self._last_good: dict | None = None

    # -- one iteration -------------------------------------------------------------------------
    def tau2(self) -> float:
        switch = self.config.tau2_switch
        return switch[1] if switch is not None and self.iteration >= switch[0] else self.config.tau2

    def objective(self) -> tuple[torch.Tensor, StepResult]:
        """J^{M,h}(theta) = J + R_delta (hybrid, K~ > 0) or J alone (pinn, or fallback when K~ <= 0)."""
        x = self.x
        if self.config.shift_collocation:
            x = x + (torch.rand((), dtype=self.dtype) - 0.5) / self.config.n_collocation
        _, dv, d2v = derivatives(self.network, x)
        pinn = pinn_loss(pinn_residual(dv, d2v, x, self.config.eps))
        k = k_tilde(dv, x, self.config.eps)
        if self.config.method == "pinn":
            return pinn, StepResult(pinn.item(), pinn.item(), float("nan"), k.item(), False)
        if not k.item() > 0.0:
            # No coercivity of the coarse form: update theta with the plain PINN loss (Sec. 4.3).
            log.warning("iteration %d: K~[v_theta] = %.4g <= 0, plain PINN step", self.iteration, k.item())
            self.fallbacks.append(self.iteration)
            return pinn, StepResult(pinn.item(), pinn.item(), float("nan"), k.item(), True)
        y = coarse_state(k, self.coarse)
        coupling = coupling_loss(self.network(self.x_coarse).reshape(-1), y, self.average, self.mass, self.tau2())
        loss = pinn + coupling
        return loss, StepResult(loss.item(), pinn.item(), coupling.item(), k.item(), False)

    def step(self) -> StepResult:
        """One Adam step of Alg. 1 (adjoint + autograd gradient, eq. 25)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, result = self.objective()
        if not math.isfinite(result.loss):
            path = self.save_checkpoint(tag="last_good")
            raise NonFiniteLossError(
                f"non-finite loss {result.loss} at iteration {self.iteration} (eps={self.config.eps}, "
                f"method={self.config.method}); the last good state is saved in {path}. "
                "Lower lr or tau2 and resume from it."
            )
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.iteration += 1
        return result

    # -- monitoring ----------------------------------------------------------------------------
    def prediction(self, x: torch.Tensor | None = None) -> np.ndarray:
        with torch.no_grad():
            return self.network(self.x_reference if x is None else x).reshape(-1).double().numpy()

    def relative_error(self) -> float:
        """Relative discrete L^2 error against the fine FEM reference (1000 nodes, Sec. 4.5)."""
        u = self.reference.values
        return float(np.linalg.norm(self.prediction() - u) / np.linalg.norm(u))

    def train(self, iterations: int | None = None, callback=None) -> list[dict]:
        """Run until ``iterations`` (default config.iterations) in total; log and checkpoint on the way."""
        c = self.config
        end = c.iterations if iterations is None else int(iterations)
        while self.iteration < end:
            result = self.step()
            it = self.iteration
            if it % c.log_every == 0 or it == end:
                entry = dict(iteration=it, loss=result.loss, pinn=result.pinn, coupling=result.coupling,
                             k_tilde=result.k_tilde, rel_l2=self.relative_error(), lr=self.scheduler.get_last_lr()[0])
                self.history.append(entry)
                log.info("it %6d  loss %.4e  J %.4e  R %.4e  K~ %.4f  relL2 %.4f", it, entry["loss"],
                         entry["pinn"], entry["coupling"], entry["k_tilde"], entry["rel_l2"])
                if callback is not None:
                    callback(self, entry)
            if c.checkpoint_dir is not None and it % c.checkpoint_every == 0:
                self.save_checkpoint()
        return self.history

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return dict(
            config=dataclasses.asdict(self.config),
            network=self.network.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            torch_rng=torch.get_rng_state(),
            numpy_rng=np.random.get_state(),
            iteration=self.iteration,
            history=self.history,
            fallbacks=self.fallbacks,
        )

    def save_checkpoint(self, path: str | None = None, tag: str | None = None) -> str:
        """Write the full state; default path ``<checkpoint_dir>/<tag or it_N>.pt``."""
        if path is None:
            directory = self.config.checkpoint_dir or "checkpoints"
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{tag or f'it_{self.iteration:07d}'}.pt")
        torch.save(self.state_dict(), path)
        return path

    @classmethod
    def from_checkpoint(cls, path: str, network: nn.Module | None = None, **config_overrides) -> "Trainer":
        """Resume: rebuild from the saved config, then restore every state (network incl. B, RNG, ...)."""
        state = torch.load(path, weights_only=False)
        settings = dict(state["config"], **config_overrides)
        for key in ("scales", "betas", "tau2_switch"):
            if settings.get(key) is not None:
                settings[key] = tuple(settings[key])
        trainer = cls(TrainingConfig(**settings), network=network)
        trainer.network.load_state_dict(state["network"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        trainer.iteration = state["iteration"]
        trainer.history = list(state["history"])
        trainer.fallbacks = list(state["fallbacks"])
        return trainer
