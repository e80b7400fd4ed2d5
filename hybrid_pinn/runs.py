"""Named, resumable training runs of Table 2 and their summaries, shared by the demos.

A run is (eps, method, architecture, seeds, overrides of Table 1); its name encodes all of them
once (``run_name``), and names its checkpoint folder and output files, so a run of a subset of
seeds or methods never overwrites another's results and a killed run continues where it stopped.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np
import torch

from plumbing.checkpoint import exclusive_folder, state_path
from plumbing.readers import read_text, reading
from plumbing.checks import (
    ArgumentTypeError,
    check_instance,
    check_path,
    check_real,
    check_size,
)

from .losses import pinn_loss, pinn_residual
from .training import Trainer, TrainingConfig, logged_wall_times, paper_config

__all__ = [
    "PAPER_TABLE_2",
    "LABELS",
    "RunSummary",
    "run_name",
    "overrides_tag",
    "run_config",
    "check_run",
    "train_run",
    "summarize",
    "error_at",
    "pinn_loss_on",
    "write_error_history",
    "read_error_history",
    "compare_runs",
]

# Table 2 of the paper: (1/eps, method, architecture) -> (iterations, relative L^2 error).
PAPER_TABLE_2 = {
    (16, "pinn", "fourier"): (30000, 0.034),
    (16, "hybrid", "fourier"): (30000, 0.036),
    (16, "hybrid", "mlp"): (15000, 0.062),  # Fig. 2: tau_2 = 5e5 for 14500 iterations, then 5e2
    # (16, "pinn", "mlp"): the paper reports no number ("unable to attain reasonable accuracy")
    (48, "pinn", "fourier"): (73000, 0.101),
    (48, "hybrid", "fourier"): (53000, 0.105),
    (64, "pinn", "fourier"): (120000, 0.124),
    (64, "hybrid", "fourier"): (83500, 0.101),
}
LABELS = {
    ("pinn", "fourier"): "Ms-PINN",
    ("hybrid", "fourier"): "Hybrid (Ms-PINN)",
    ("pinn", "mlp"): "V-PINN",
    ("hybrid", "mlp"): "Hybrid (V-PINN)",
}


def overrides_tag(overrides: dict) -> str:
    """'' or '_key-value_...' for the overrides of Table 1, in sorted order (file-name safe)."""
    parts = []
    for key in sorted(overrides):
        value = overrides[key]
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, (tuple, list)):
            text = "-".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        else:
            text = str(value)
        parts.append(f"{key}-{text}".replace("/", "-").replace("+", ""))
    return "".join("_" + p for p in parts)


def run_name(eps_inverse: int, method: str, architecture: str, seeds, overrides: dict) -> str:
    """eps16_hybrid_fourier_s0-1-2[_key-value...]: one name per run, for folders and files."""
    return (
        f"eps{eps_inverse}_{method}_{architecture}"
        f"_s{'-'.join(map(str, seeds))}{overrides_tag(overrides)}"
    )


def run_config(
    eps_inverse: int,
    method: str,
    architecture: str,
    seeds,
    iterations: int,
    overrides: dict,
    checkpoint_root: str | None = None,
    log_every: int = 250,
    solver: str = "petsc",
    device: str = "cpu",
) -> TrainingConfig:
    """The configuration ``train_run`` trains with the same arguments (checked: a ValueError
    names a field out of its range), its checkpoint folder ``<checkpoint_root>/<run name>``
    (default root ``$NH_STATE/checkpoints/hybrid``). Nothing is read or written."""
    return paper_config(
        eps_inverse,
        method,
        architecture,
        seeds=tuple(seeds),
        iterations=iterations,
        log_every=log_every,
        checkpoint_every=max(1000, log_every),
        checkpoint_dir=os.path.join(
            checkpoint_root or state_path("checkpoints", "hybrid"),
            run_name(eps_inverse, method, architecture, seeds, overrides),
        ),
        solver=solver,
        device=device,
        **overrides,
    )


def check_run(config: TrainingConfig) -> None:
    """Refuse (a ValueError naming the differing fields) a checkpoint folder that holds another
    run than ``config``; reads, never writes (``Trainer.check_resumable``), so that a command
    checks all its runs before its first output."""
    Trainer.check_resumable(config)


def train_run(
    eps_inverse: int,
    method: str,
    architecture: str,
    seeds,
    iterations: int,
    overrides: dict,
    checkpoint_root: str | None = None,
    log_every: int = 250,
    solver: str = "petsc",
    device: str = "cpu",
) -> Trainer:
    """Train (or continue) one run to ``iterations`` and checkpoint it; returns the trainer.

    Checkpoints go to ``<checkpoint_root>/<run name>`` (default root
    ``$NH_STATE/checkpoints/hybrid``), held by this run from the resume to the last checkpoint
    (``plumbing.checkpoint.exclusive_folder``): a second run on the same folder is refused in
    one line naming the folder and the other process, and touches none of its files.

    ``solver`` and ``device`` say where it runs (see ``TrainingConfig``), not what it computes: a
    run checkpointed on the GPU machine continues, or is summarised, here under the same name.

    Parameters
    ----------
    eps_inverse : int
        1/eps: 16, 48 or 64 (Table 1).
    method : str
        ``"hybrid"`` or ``"pinn"``.
    architecture : str
        ``"fourier"`` or ``"mlp"``.
    seeds : sequence of int
        One network member per seed.
    iterations : int
        Iterations in total (a checkpointed run continues up to them).
    overrides : dict
        ``TrainingConfig`` fields that differ from Table 1; they are part of the run's name.
    checkpoint_root : str, optional
        The folder of the run folders.
    log_every : int
        Iterations between log entries (checkpoints every ``max(1000, log_every)``).
    solver : str
        ``"petsc"`` or ``"scipy"``.
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    Trainer
        The trained (or resumed and trained) run, checkpointed.

    Raises
    ------
    ValueError
        If the run's checkpoint folder holds a different run or is held by another process, or
        a setting is invalid.
    """
    check_instance("overrides", overrides, dict)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ArgumentTypeError(f"seeds must be a list of integers, got {seeds!r}")
    seeds = [check_size("seeds", s, 0) for s in seeds]
    log_every = check_size("log_every", log_every)
    if checkpoint_root is not None:
        check_path("checkpoint_root", checkpoint_root)
    config = run_config(
        eps_inverse,
        method,
        architecture,
        seeds,
        iterations,
        overrides,
        checkpoint_root,
        log_every,
        solver,
        device,
    )
    with exclusive_folder(config.checkpoint_dir, option="--checkpoint-root"):
        trainer = Trainer.resume_or_start(config)
        trainer.train()
        trainer.save_checkpoint()
    return trainer


def ran_where(segments: list[dict], iterations: int, history: list[dict] | None = None) -> str:
    """``Trainer.segments`` in words: "iterations 0-63000 on cuda (scipy) in 700 s,
    63000-120000 on cpu (petsc) in 6984 s"; "not recorded" for runs saved before the segments
    were. The seconds come from the wall times ``history`` logged at both ends of a segment
    (none where an end was not logged)."""
    if not segments:
        return "not recorded"
    wall = logged_wall_times(history or [])
    ends = [seg["start"] for seg in segments[1:]] + [iterations]
    parts = []
    for seg, end in zip(segments, ends):
        part = f"{seg['start']}-{end} on {seg['device']} ({seg['solver']})"
        if seg["start"] in wall and end in wall:
            part += f" in {wall[end] - wall[seg['start']]:.0f} s"
        parts.append(part)
    return "iterations " + ", ".join(parts)


@dataclass
class RunSummary:
    """Per-seed results of one run, from its log."""

    seeds: tuple[int, ...]
    iterations: int
    final: np.ndarray  # relative L^2 error at the last iteration
    minimum: np.ndarray  # over the logged iterations
    reached: list[int | None]  # first logged iteration with error <= the target, None if never
    k_tilde: np.ndarray
    wall_time: float  # of the whole run (all seeds side by side)
    fallback_steps: int
    pinn_points: np.ndarray  # J on the M collocation points
    pinn_between: np.ndarray  # J on 4800 equidistant points: much larger means aliasing


def pinn_loss_on(trainer: Trainer, x: torch.Tensor) -> np.ndarray:
    """J of every member on the points x (no gradient)."""
    with torch.no_grad():
        jet = trainer.network.jet(x)
        return (
            pinn_loss(pinn_residual(jet[:, 1], jet[:, 2], x, trainer.config.eps))
            .double()
            .cpu()
            .numpy()
        )


def summarize(trainer: Trainer, target_error: float | None) -> RunSummary:
    """Final and best error per seed, and the iterations each seed needs to reach
    ``target_error``.

    Parameters
    ----------
    trainer : Trainer
        A run with at least one log entry.
    target_error : float or None
        The relative L^2 error to reach, such as Table 2's; None: none.

    Returns
    -------
    RunSummary
        Per seed: final and minimum relative L^2 error, the first logged iteration at or below
        ``target_error`` (None if never), K~, and J on the collocation points and between them
        (much larger there means aliasing); the run's wall time and fallback steps.
    """
    check_instance("trainer", trainer, Trainer)
    if not trainer.history:
        raise ValueError("trainer has no log entry yet: train it first (or log more often)")
    if target_error is not None:
        target_error = check_real("target_error", target_error, least=0.0)
    history = trainer.history
    errors = np.array([e["rel_l2"] for e in history])  # (logs, seeds)
    iterations = [e["iteration"] for e in history]
    reached = []
    for member in range(errors.shape[1]):
        hit = np.flatnonzero(errors[:, member] <= target_error) if target_error is not None else []
        reached.append(int(iterations[hit[0]]) if len(hit) else None)
    return RunSummary(
        seeds=trainer.config.seeds,
        iterations=trainer.iteration,
        final=errors[-1],
        minimum=errors.min(axis=0),
        reached=reached,
        k_tilde=np.asarray(history[-1]["k_tilde"]),
        wall_time=trainer.wall_time,
        fallback_steps=len(trainer.fallbacks),
        pinn_points=pinn_loss_on(trainer, trainer.x),
        pinn_between=pinn_loss_on(
            trainer,
            torch.linspace(0.0, 1.0, 4802, dtype=trainer.dtype, device=trainer.device)[1:-1],
        ),
    )


def error_at(history: list[dict], iteration: int) -> np.ndarray:
    """Per-seed relative error at the first logged iteration >= ``iteration`` (else the last)."""
    entry = next((e for e in history if e["iteration"] >= iteration), history[-1])
    return np.asarray(entry["rel_l2"])


def write_error_history(trainer: Trainer, path) -> None:
    """The run's log as CSV: iteration, wall time, then the relative L^2 error and K~ per seed
    (one row per logged iteration), the committed record every Table 2 statement is read from."""
    seeds = trainer.config.seeds
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["iteration", "wall_time"]
            + [f"rel_l2_s{s}" for s in seeds]
            + [f"k_tilde_s{s}" for s in seeds]
        )
        for e in trainer.history:
            out.writerow(
                [e["iteration"], f"{e['wall_time']:.1f}"]
                + [f"{v:.6g}" for v in e["rel_l2"]]
                + [f"{v:.6g}" for v in e["k_tilde"]]
            )


def read_error_history(path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(iterations, errors of shape (logs, seeds), seeds) from ``write_error_history``'s file;
    a ValueError on one line naming it for any other file (empty, damaged, another CSV)."""
    what, expected = "error history", "the CSV file that write_error_history writes"
    text = read_text(path, what, expected)
    with reading(path, what, expected):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = rows[0] if rows else []
        if header[:2] != ["iteration", "wall_time"]:
            raise ValueError(f"header {header[:2]}, not ['iteration', 'wall_time', ...]")
        columns = [i for i, name in enumerate(header) if name.startswith("rel_l2_s")]
        seeds = [int(header[i].removeprefix("rel_l2_s")) for i in columns]
        if not seeds or len(rows) < 2:
            raise ValueError("no rel_l2_s<seed> column" if not seeds else "no logged iteration")
        body = np.array(rows[1:], dtype=float)  # rows of another length: a ValueError
        if body.shape[1] != len(header) or not np.all(np.isfinite(body[:, 0])):
            raise ValueError("rows of another length than the header, or no iteration numbers")
    return body[:, 0].astype(int), body[:, columns], seeds


TAIL_ITERATIONS = 5000  # the window of ``compare_runs``' tail means


def compare_runs(pinn_path, hybrid_path, tail: int = TAIL_ITERATIONS) -> dict:
    """Table 2's comparison of the two methods at one eps, per seed, from their history files:
    final errors, and their means over the logged iterations of the last ``tail`` (at a constant
    step size the final error is one draw from a noisy plateau); at how many of the iterations
    both logged the Hybrid is below Ms-PINN; the first logged iteration at which the Hybrid
    reaches Ms-PINN's final error, and its fraction of Ms-PINN's iterations (the paper: the
    Hybrid needs about 30 % fewer); and the common iteration from which on Ms-PINN stays below
    the Hybrid (None if it is not below at the last one)."""
    it_p, err_p, seeds_p = read_error_history(pinn_path)
    it_h, err_h, seeds_h = read_error_history(hybrid_path)
    if seeds_p != seeds_h:
        raise ValueError(f"{pinn_path} has seeds {seeds_p}, {hybrid_path} has {seeds_h}")
    common, in_p, in_h = np.intersect1d(it_p, it_h, return_indices=True)
    tail_p, tail_h = it_p > it_p[-1] - tail, it_h > it_h[-1] - tail
    per_seed = []
    for k, seed in enumerate(seeds_p):
        hit = np.flatnonzero(err_h[:, k] <= err_p[-1, k])
        reached = int(it_h[hit[0]]) if hit.size else None
        pinn, hybrid = err_p[in_p, k], err_h[in_h, k]  # at the common iterations
        above = np.flatnonzero(pinn >= hybrid)  # Ms-PINN not below
        last = above[-1] + 1 if above.size else 0
        per_seed.append(
            {
                "seed": seed,
                "pinn_final": float(err_p[-1, k]),
                "hybrid_final": float(err_h[-1, k]),
                "pinn_tail_mean": float(err_p[tail_p, k].mean()),
                "hybrid_tail_mean": float(err_h[tail_h, k].mean()),
                "hybrid_below_at_every_common_iteration": bool(np.all(hybrid < pinn)),
                "hybrid_below_at_common_iterations": int(np.sum(hybrid < pinn)),
                "hybrid_iterations_to_pinn_final": reached,
                "fraction_of_pinn_iterations": None if reached is None else reached / it_p[-1],
                "pinn_below_from": int(common[last]) if last < common.size else None,
            }
        )
    return {
        "pinn_iterations": int(it_p[-1]),
        "hybrid_iterations": int(it_h[-1]),
        "common_logged_iterations": int(common.size),
        "tail_iterations": int(tail),
        "seeds": per_seed,
    }
