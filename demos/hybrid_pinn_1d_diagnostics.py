"""Why Ms-PINN errors of order one coexist with a small PINN loss on problem (57).

Three measurements on one core (Table 1's network, float64; pinn and fit take minutes, lbfgs with
150 steps on 2000 points about 20 min):

* ``pinn``: train the Ms-PINN (Alg. 1 without coupling) and report, every 500 iterations, J on
  the M training points and between them (4800 points), and the relative L^2 error split into its
  smooth part (moving average over one period eps) and the rest.
* ``fit``: fit the same network to the FE reference by least squares (no PINN loss) and report
  the error it reaches and the J of the fitted network.
* ``lbfgs``: ``--iterations`` Adam steps of the Ms-PINN as in ``pinn``, then minimise J on
  ``--lbfgs-collocation`` equidistant points with L-BFGS (strong Wolfe line search, 50 inner
  iterations per reported step): does J -> 0 on those points give u?

    ./run python3 demos/hybrid_pinn_1d_diagnostics.py pinn --iterations 3000
    ./run python3 demos/hybrid_pinn_1d_diagnostics.py fit --iterations 6000
    ./run python3 demos/hybrid_pinn_1d_diagnostics.py lbfgs --iterations 3000 --lbfgs-collocation 280|2000

See demos/results/hybrid_1d/README.md for what they printed and what it means.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hybrid_pinn.losses import collocation_points, derivatives, pinn_loss, pinn_residual
from hybrid_pinn.training import Trainer, paper_config


def pinn_loss_at(trainer: Trainer, x: torch.Tensor) -> torch.Tensor:
    """J of the trainer's network on the points x (differentiable in theta)."""
    _, dv, d2v = derivatives(trainer.network, x)
    return pinn_loss(pinn_residual(dv, d2v, x, trainer.config.eps))


def error_parts(trainer: Trainer) -> tuple[float, float]:
    """Relative L^2 error of the smooth part (moving average over one period) and of the rest."""
    u = trainer.reference.values
    error = trainer.prediction() - u
    width = max(1, round(trainer.config.eps * (len(u) - 1)))
    smooth = np.convolve(error, np.ones(width) / width, mode="same")
    norm = np.linalg.norm(u)
    return np.linalg.norm(smooth) / norm, np.linalg.norm(error - smooth) / norm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("pinn", "fit", "lbfgs"))
    parser.add_argument("--eps", type=int, default=16, help="1/eps of Table 1 (16, 48, 64)")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--collocation", type=int, help="override Table 1's M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lbfgs-collocation", type=int, default=2000, help="points of the L-BFGS phase")
    parser.add_argument("--lbfgs-steps", type=int, default=150, help="L-BFGS steps of 50 inner iterations")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = dict(n_collocation=args.collocation) if args.collocation else {}
    trainer = Trainer(paper_config(args.eps, "pinn", seed=args.seed, dtype="float64", **overrides))
    between = torch.linspace(0.0, 1.0, 4802, dtype=torch.float64)[1:-1].reshape(-1, 1)
    if args.mode == "fit":
        target = torch.as_tensor(trainer.reference.values).reshape(-1, 1)
        optimizer = torch.optim.Adam(trainer.network.parameters(), lr=1e-3)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, 1000, 0.75)
    for it in range(1, args.iterations + 1):
        if args.mode in ("pinn", "lbfgs"):
            trainer.step()
        else:
            optimizer.zero_grad()
            loss = torch.mean((trainer.network(trainer.x_reference) - target) ** 2)
            loss.backward()
            optimizer.step()
            schedule.step()
        if it % 500 == 0:
            report(f"it {it:6d}", trainer, trainer.x, between)
    if args.mode == "lbfgs":
        points = collocation_points(args.lbfgs_collocation, torch.float64)
        optimizer = torch.optim.LBFGS(trainer.network.parameters(), lr=1.0, max_iter=50, history_size=50,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = pinn_loss_at(trainer, points)
            loss.backward()
            return loss

        for step in range(1, args.lbfgs_steps + 1):
            optimizer.step(closure)
            if step % 5 == 0:
                report(f"L-BFGS {step:4d}", trainer, points, between)


def report(label: str, trainer: Trainer, points: torch.Tensor, between: torch.Tensor) -> None:
    smooth, rest = error_parts(trainer)
    print(f"{label}  J at the {len(points)} points {pinn_loss_at(trainer, points).item():.3e}  "
          f"J at 4800 points {pinn_loss_at(trainer, between).item():.3e}  rel. L2 {trainer.relative_error():.4f} "
          f"(smooth part {smooth:.4f}, rest {rest:.4f})", flush=True)


if __name__ == "__main__":
    main()
