"""Hybrid physics-informed multiscale solver with a coarse finite element problem and its adjoint.

Paper: Hintermüller, Korolev, *A hybrid physics-informed neural network based multiscale solver
as a PDE constrained optimization problem* (2023).
"""

__version__ = "0.1.0"
