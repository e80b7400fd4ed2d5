"""Tests never touch the long runs' state: ``$NH_STATE`` points at a fresh folder per session.
Shared fixtures: ``no_work`` (the first expensive step of each command raises)."""

import importlib
import os
import pkgutil
import tempfile

import pytest
from helpers import boom

os.environ["NH_STATE"] = tempfile.mkdtemp(prefix="nh-state-")


@pytest.fixture
def no_work(monkeypatch):
    """The first expensive step of each command: solves, training, generation, hybrid runs.

    Every module of the packages is imported first: a module imported for the first time under
    the patch would bind the stand-in by ``from ... import`` and keep it for later tests."""
    for package in ("lod_fenicsx", "nn_compress", "hybrid_pinn"):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__, f"{package}."):
            importlib.import_module(info.name)
    for target in (
        "lod_fenicsx.pglod.pglod_solve",
        "lod_fenicsx.discretization.Discretization",
        "nn_compress.training.build_model",
        "nn_compress.pipeline.ensure_dataset",
        "nn_compress.pipeline.ensure_network",
        "hybrid_pinn.runs.train_run",
        "hybrid_pinn.upscaling.solve_cell_problems",
    ):
        monkeypatch.setattr(target, boom)
