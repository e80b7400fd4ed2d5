"""Hybrid physics-informed multiscale solver with a coarse finite element problem and its adjoint.

Paper: Hintermüller, Korolev, *A hybrid physics-informed neural network based multiscale solver
as a PDE constrained optimization problem* (2023).

Modules, one per object of the paper:

- ``upscaling``: REV upscaling in 2-D (Sec. 4.1, Alg. 2, eqs. (35), (36), (43)) and the coarse
  problem (48).
- ``problem``: the 1-D model problem (57) written once (NumPy, torch, UFL) and its closed-form
  solution.
- ``reference``: the fine P1 reference solution of (57) (DOLFINx, or the same system by SciPy).
- ``network``: multiscale Fourier feature network (angular or literal convention), plain MLP,
  hard Dirichlet factor (Sec. 4.4); one member per seed; v, v', v'' in one closed-form pass.
- ``losses``: PINN residual, K~[v] by uniform quadrature, moving average (59)-(60), coupling
  (11)/(16).
- ``coarse``: coarse P1 problem and the adjoint (26)-(29) as a ``torch.autograd.Function``
  (DOLFINx + PETSc through ``lod_fenicsx.linalg.DirichletSolver``, or closed-form SciPy).
- ``training``: Alg. 1 with checkpoints, the configuration dataclass, Table 1's settings and the
  readings the text leaves open (Fourier convention, learning-rate schedule, coupling, coarse mesh).
- ``runs``: named, resumable Table 2 runs and their summaries, shared by the demos.
- ``minimiser``: the exact minimiser of a run's objective over a sine series, no network: the
  lowest error the Hybrid's (or the PINN's) loss allows.

From Python::

    from hybrid_pinn import Trainer, paper_config
    trainer = Trainer(paper_config(16, "hybrid", seeds=(0, 1, 2), iterations=30000))
    trainer.train()
    print(trainer.relative_error())   # one relative L2 error per seed
"""

from plumbing.lazy import lazy_exports

__version__ = "0.1.0"

# The public API, imported on first use (see ``lod_fenicsx``).
_API = {
    "TrainingConfig": "training",
    "Trainer": "training",
    "paper_config": "training",
    "SCHEDULES": "training",
    "TABLE_1": "training",
    "FOURIER_CONVENTIONS": "network",
    "MultiscaleFourierNet": "network",
    "MLP": "network",
    "HardDirichlet": "network",
    "CoarseProblem": "coarse",
    "coarse_state": "coarse",
    "fine_reference": "reference",
    "exact_solution": "problem",
    "train_run": "runs",
    "summarize": "runs",
    "objective_minimiser": "minimiser",
    "solve_cell_problems": "upscaling",
    "upscaled_tensor": "upscaling",
    "solve_coarse": "upscaling",
}
__all__, __getattr__ = lazy_exports(__name__, _API)
