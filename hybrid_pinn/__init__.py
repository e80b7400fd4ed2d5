"""Hybrid physics-informed multiscale solver with a coarse finite element problem and its adjoint.

Paper: Hintermüller, Korolev, *A hybrid physics-informed neural network based multiscale solver
as a PDE constrained optimization problem* (2023).

Modules, one per object of the paper:

- ``upscaling``: REV upscaling in 2-D (Sec. 4.1, Alg. 2, eqs. (35), (36), (43)) and the coarse problem (48).
- ``problem``: the 1-D model problem (57) and its closed-form solution (K~ = 5/6).
- ``reference``: the fine P1 reference solution of (57) (DOLFINx).
- ``network``: multiscale Fourier feature network, plain MLP, hard Dirichlet factor (Sec. 4.4).
- ``losses``: PINN residual, K~[v] by uniform quadrature, moving average (59)-(60), coupling R_delta.
- ``coarse``: coarse P1 problem and the adjoint (26)-(29) as a ``torch.autograd.Function`` (PETSc).
- ``training``: Alg. 1 with checkpoints, the configuration dataclass and Table 1's settings.
"""

__version__ = "0.1.0"
