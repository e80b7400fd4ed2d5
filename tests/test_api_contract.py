"""The API contract (issue 34, item 6): every name in the ``__all__`` of ``lod_fenicsx``,
``nn_compress`` and ``hybrid_pinn`` checks its arguments before any work, as ``pglod_solve``
does: a TypeError for a wrong type (``True`` or 4.0 as a size, a complex or boolean array, a
string for a flag), a ValueError for a value out of range (a size <= 0, NaN or inf, a shape, an
unknown name or device), and the message names the argument.

``test_contract[<name>]`` runs a few bad calls of one entry point on tiny inputs; the README's
section "API contract" has one row per name that points to it, and
``test_readme_table_lists_every_public_name`` keeps the table complete. Nothing here computes:
every call is refused before its work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
import re

import numpy as np
import pytest
import torch
from mpi4py import MPI

import hybrid_pinn
import lod_fenicsx
import nn_compress

NAN, SELF = math.nan, MPI.COMM_SELF
PACKAGES = (lod_fenicsx, nn_compress, hybrid_pinn)
PUBLIC = sorted(f"{p.__name__}.{name}" for p in PACKAGES for name in p.__all__)
README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@dataclasses.dataclass
class Bad:
    """One call that must fail with ``error`` and a message naming ``argument``."""

    error: type
    argument: str
    call: object  # () -> anything


def bad(error, argument, call, *args, **kwargs) -> Bad:
    return Bad(error, argument, functools.partial(call, *args, **kwargs))


# -- tiny inputs, made once ------------------------------------------------------------------------
@functools.cache
def disc(fine: bool = True):
    return lod_fenicsx.Discretization(SELF, 2, 2, fine=fine)


@functools.cache
def surrogate():
    net = nn_compress.CompressionNetwork(nn_compress.layer_sizes(2, 1))
    return nn_compress.NNLODSurrogate(net, 2, 2, 1)


def train_config(**kw):
    return nn_compress.TrainConfig("no-such-data.h5", "no-such-folder", **kw)


def hybrid_config(**kw):
    small = dict(width=8, n_coarse=8, window=1, n_collocation=16, n_reference=50)
    return hybrid_pinn.TrainingConfig(**{**small, "solver": "scipy", **kw})


def petsc_pair():
    from petsc4py import PETSc

    mat = PETSc.Mat().createAIJ((2, 2), nnz=1, comm=SELF)
    mat.setValue(0, 0, 1.0)
    mat.setValue(1, 1, 1.0)
    mat.assemble()
    return mat, mat.createVecLeft()


def rev_mesh():
    from dolfinx import mesh

    return mesh.create_unit_square(SELF, 2, 2, mesh.CellType.quadrilateral)


def dummy_cells():
    from hybrid_pinn.upscaling import CellSolutions

    return CellSolutions(None, (None, None), None, None, 2)


def complex_(shape):
    return np.ones(shape, dtype=complex)


def with_nan(shape, index=0):
    a = np.ones(shape)
    a.flat[index] = NAN
    return a


def _l(name):
    return getattr(lod_fenicsx, name)


def _n(name):
    return getattr(nn_compress, name)


def _h(name):
    return getattr(hybrid_pinn, name)


# -- the bad calls, one list per public name ------------------------------------------------------
def _lod_cases():
    ones4, ones8, nan4 = np.ones((4, 4)), np.ones((8, 8)), with_nan((4, 4))
    return {
        "DirichletSolver": [
            bad(ValueError, "max_it", _l("DirichletSolver"), None, None, [], "p_", max_it=0),
            bad(ValueError, "rtol", _l("DirichletSolver"), None, None, [], "p_", rtol=NAN),
            bad(TypeError, "prefix", _l("DirichletSolver"), None, None, [], 3),
            bad(TypeError, "direct", _l("DirichletSolver"), None, None, [], "p_", direct="yes"),
        ],
        "Discretization": [
            bad(TypeError, "n_coarse", _l("Discretization"), SELF, True, 2),
            bad(TypeError, "n_coarse", _l("Discretization"), SELF, 4.5, 2),
            bad(ValueError, "n_sub", _l("Discretization"), SELF, 4, 0),
            bad(ValueError, "dim", _l("Discretization"), SELF, 2, 2, dim=4),
            bad(TypeError, "comm", _l("Discretization"), None, 2, 2),
        ],
        "PatchSolver": [
            bad(TypeError, "n_coarse", _l("PatchSolver"), True, 2, 1),
            bad(TypeError, "n_sub", _l("PatchSolver"), 4, 2.0, 1),
            bad(ValueError, "ell", _l("PatchSolver"), 4, 2, -1),
            bad(ValueError, "backend", _l("PatchSolver"), 4, 1, 1, backend="cholmod"),
            bad(ValueError, "device", _l("PatchSolver"), 2, 2, 1, backend="torch", device="tpu"),
            bad(ValueError, "device", _l("PatchSolver"), 2, 2, 1, "torch", device="cuda:99"),
            bad(ValueError, "batch_size", _l("PatchSolver"), 2, 2, 1, "torch", batch_size=0),
            bad(
                TypeError,
                "elements",
                lambda: lod_fenicsx.PatchSolver(2, 1, 1).local_matrices(np.ones((2, 2)), [0.5]),
            ),  # fmt: skip
            bad(
                ValueError,
                "elements",
                lambda: lod_fenicsx.PatchSolver(2, 1, 1).local_matrices(np.ones((2, 2)), [4]),
            ),  # fmt: skip
        ],
        "RHS": [
            bad(ValueError, "rhs", lambda: lod_fenicsx.coarse_load(disc(), rhs="nope")),
            bad(TypeError, "rhs", lambda: lod_fenicsx.coarse_load(disc(), rhs=3)),
        ],
        "assemble_global": [
            bad(
                TypeError,
                "local_matrices",
                _l("assemble_global"),
                SELF,
                complex_((3, 16, 4)),
                np.arange(3),
                5,
                1,
            ),  # fmt: skip
            bad(
                ValueError,
                "dirichlet_diagonal",
                _l("assemble_global"),
                SELF,
                np.zeros((3, 16, 4)),
                np.arange(3),
                5,
                1,
                dirichlet_diagonal=NAN,
            ),  # fmt: skip
            bad(
                ValueError,
                "elements",
                _l("assemble_global"),
                SELF,
                np.zeros((3, 16, 4)),
                [0, 1, 99],
                5,
                1,
            ),  # fmt: skip
            bad(
                ValueError, "n_coarse", _l("assemble_global"), SELF, np.zeros((0, 16, 4)), [], 0, 1
            ),  # fmt: skip
        ],
        "cg_amg_solver": [
            bad(TypeError, "matrix", _l("cg_amg_solver"), np.eye(2), "p_"),
            bad(ValueError, "rtol", lambda: lod_fenicsx.cg_amg_solver(petsc_pair()[0], "p_", -1.0)),
            bad(
                ValueError,
                "atol",
                lambda: lod_fenicsx.cg_amg_solver(petsc_pair()[0], "p_", atol=NAN),
            ),  # fmt: skip
        ],
        "coarse_l2_error": [
            bad(TypeError, "u", _l("coarse_l2_error"), complex_((5, 5)), np.ones((5, 5))),
            bad(ValueError, "v", _l("coarse_l2_error"), np.ones((5, 5)), with_nan((5, 5), 7)),
            bad(ValueError, "u", _l("coarse_l2_error"), np.ones((5, 4)), np.ones((5, 4))),
            bad(TypeError, "u", _l("coarse_l2_error"), np.ones((5, 5), bool), np.ones((5, 5))),
        ],
        "coarse_load": [
            bad(TypeError, "disc", _l("coarse_load"), "disc"),
            bad(ValueError, "load", lambda: lod_fenicsx.coarse_load(disc(), load="l3")),
            bad(
                TypeError,
                "keep_dirichlet",
                lambda: lod_fenicsx.coarse_load(disc(), keep_dirichlet="no"),
            ),  # fmt: skip
        ],
        "coarse_solve": [
            bad(TypeError, "matrix", lambda: lod_fenicsx.coarse_solve(np.eye(2), petsc_pair()[1])),
            bad(TypeError, "load", lambda: lod_fenicsx.coarse_solve(petsc_pair()[0], np.ones(2))),
            bad(TypeError, "prefix", lambda: lod_fenicsx.coarse_solve(*petsc_pair(), prefix=None)),
        ],
        "corrected_solution": [
            bad(
                TypeError,
                "u_coarse",
                _l("corrected_solution"),
                SELF,
                np.zeros((4, 49, 4)),
                np.arange(4),
                complex_((3, 3)),
                2,
                1,
            ),  # fmt: skip
            bad(
                ValueError,
                "correctors",
                _l("corrected_solution"),
                SELF,
                np.zeros((4, 48, 4)),
                np.arange(4),
                np.ones((3, 3)),
                2,
                1,
            ),  # fmt: skip
            bad(
                ValueError,
                "n_sub",
                _l("corrected_solution"),
                SELF,
                np.zeros((4, 49, 4)),
                np.arange(4),
                np.ones((3, 3)),
                0,
                1,
            ),  # fmt: skip
            bad(
                ValueError,
                "elements",
                _l("corrected_solution"),
                SELF,
                np.zeros((1, 49, 4)),
                [4],
                np.ones((3, 3)),
                2,
                1,
            ),  # fmt: skip
        ],
        "distributed_local_matrices": [
            bad(ValueError, "root", _l("distributed_local_matrices"), SELF, ones8, 4, 2, 1, root=5),
            bad(TypeError, "n_sub", _l("distributed_local_matrices"), SELF, ones8, 4, True, 1),
            bad(
                TypeError,
                "coefficient",
                _l("distributed_local_matrices"),
                SELF,
                np.ones((8, 8), bool),
                4,
                2,
                1,
            ),  # fmt: skip
        ],
        "fine_load": [
            bad(ValueError, "disc", lambda: lod_fenicsx.fine_load(disc(fine=False))),
            bad(TypeError, "rhs", lambda: lod_fenicsx.fine_load(disc(), rhs=None)),
        ],
        "fine_solve": [
            bad(ValueError, "disc", lambda: lod_fenicsx.fine_solve(disc(False), np.ones((4, 4)))),
            bad(ValueError, "rtol", lambda: lod_fenicsx.fine_solve(disc(), ones4, "one", 0)),
            bad(TypeError, "coefficient", lambda: lod_fenicsx.fine_solve(disc(), complex_((4, 4)))),
            bad(ValueError, "coefficient", lambda: lod_fenicsx.fine_solve(disc(), nan4)),
        ],
        "fine_upscaled_permeability": [
            bad(
                ValueError,
                "axes",
                lambda: lod_fenicsx.fine_upscaled_permeability(disc(), np.ones((4, 4)), axes=(2,)),
            ),  # fmt: skip
            bad(
                TypeError,
                "axes",
                lambda: lod_fenicsx.fine_upscaled_permeability(
                    disc(), np.ones((4, 4)), axes=(0.5,)
                ),
            ),  # fmt: skip
            bad(
                ValueError,
                "rtol",
                lambda: lod_fenicsx.fine_upscaled_permeability(disc(), np.ones((4, 4)), rtol=NAN),
            ),  # fmt: skip
        ],
        "padded_patches": [
            bad(TypeError, "field", _l("padded_patches"), complex_((8, 8)), 4, 2, 1),
            bad(ValueError, "field", _l("padded_patches"), np.ones((8, 6)), 4, 2, 1),
            bad(ValueError, "ell", _l("padded_patches"), ones8, 4, 2, -1),
        ],
        "pglod_solve": [
            bad(TypeError, "ell", _l("pglod_solve"), SELF, ones8, 4, 2, 1.5),
            bad(TypeError, "n_coarse", _l("pglod_solve"), SELF, ones8, True, 2, 1),
            bad(TypeError, "coefficient", _l("pglod_solve"), SELF, complex_((8, 8)), 4, 2, 1),
            bad(ValueError, "coefficient", _l("pglod_solve"), SELF, with_nan((8, 8)), 4, 2, 1),
            bad(ValueError, "rhs", _l("pglod_solve"), SELF, ones8, 4, 2, 1, rhs="nope"),
            bad(TypeError, "corrected", _l("pglod_solve"), SELF, ones8, 4, 2, 1, corrected="yes"),
        ],
        "spectral_norm": [
            bad(ValueError, "tol", _l("spectral_norm"), np.eye(2), tol=-1.0),
            bad(ValueError, "a", _l("spectral_norm"), with_nan((2, 2))),
            bad(TypeError, "dense_limit", _l("spectral_norm"), np.eye(2), dense_limit=True),
            bad(ValueError, "a", _l("spectral_norm"), np.eye(2), np.eye(3)),
        ],
        "upscaled_permeability": [
            bad(ValueError, "axes", _l("upscaled_permeability"), SELF, ones8, 4, 2, 1, axes=(5,)),
            bad(
                TypeError,
                "patch_solvers",
                _l("upscaled_permeability"),
                SELF,
                ones8,
                4,
                2,
                1,
                patch_solvers=[],
            ),  # fmt: skip
            bad(ValueError, "n_coarse", _l("upscaled_permeability"), SELF, ones8, 0, 2, 1),
        ],
        "validate_coefficient": [
            bad(TypeError, "coefficient", _l("validate_coefficient"), np.ones((8, 8), bool), 4, 2),
            bad(ValueError, "n_coarse", _l("validate_coefficient"), ones8, 0, 2),
            bad(TypeError, "dim", _l("validate_coefficient"), ones8, 4, 2, dim=True),
            bad(ValueError, "coefficient", _l("validate_coefficient"), with_nan((8, 8)), 4, 2),
        ],
    }


def _nn_cases(tmp):
    from nn_compress.dataset import SerialComm

    config = nn_compress.GenerationConfig
    return {
        "CompressionNetwork": [
            bad(ValueError, "sizes", _n("CompressionNetwork"), [36, 0, 64]),
            bad(TypeError, "sizes", _n("CompressionNetwork"), "36"),
            bad(ValueError, "output_scale", _n("CompressionNetwork"), [36, 64], output_scale=NAN),
            bad(TypeError, "structured", _n("CompressionNetwork"), [36, 64], structured="yes"),
        ],
        "FAMILIES": [
            bad(ValueError, "family", _n("sample"), "nope", 0, 0, 8),
            bad(TypeError, "family", _n("sample"), 3, 0, 0, 8),
        ],
        "GenerationConfig": [
            bad(ValueError, "split", config, 4, 2, 1, {"A1": 10}, split=(0.9, 0.8)),
            bad(TypeError, "n_coarse", config, True, 2, 1, {"A1": 10}),
            bad(ValueError, "families", config, 4, 2, 1, {}),
            bad(ValueError, "families", config, 4, 2, 1, {"A1": 0}),
            bad(ValueError, "dim", config, 4, 2, 1, {"A1": 10}, dim=4),
        ],
        "NNLODSurrogate": [
            bad(
                ValueError,
                "device",
                _n("NNLODSurrogate"),
                nn_compress.CompressionNetwork([36, 64]),
                2,
                2,
                1,
                device="tpu",
            ),  # fmt: skip
            bad(
                ValueError,
                "device",
                _n("NNLODSurrogate"),
                nn_compress.CompressionNetwork([36, 64]),
                2,
                2,
                1,
                device="cuda:99",
            ),  # fmt: skip
            bad(
                TypeError,
                "n_coarse",
                _n("NNLODSurrogate"),
                nn_compress.CompressionNetwork([36, 64]),
                True,
                2,
                1,
            ),  # fmt: skip
            bad(
                ValueError,
                "n_sub",
                _n("NNLODSurrogate"),
                nn_compress.CompressionNetwork([36, 64]),
                2,
                0,
                1,
            ),  # fmt: skip
            bad(TypeError, "network_input", lambda: surrogate().local_matrices(complex_((4, 4)))),
            bad(ValueError, "network_input", lambda: surrogate().local_matrices(with_nan((4, 4)))),
        ],
        "SCHEDULES": [
            bad(TypeError, "schedule", train_config, schedule=nn_compress.SCHEDULES["paper000"]),
            bad(ValueError, "schedule", train_config, schedule=((1, 1e-3),)),
        ],
        "TrainConfig": [
            bad(ValueError, "epochs", train_config, epochs=0),
            bad(TypeError, "batch_size", train_config, batch_size=True),
            bad(ValueError, "device", train_config, device="tpu"),
            bad(ValueError, "dtype", train_config, dtype="int8"),
            bad(ValueError, "plateau", train_config, plateau=(2, 1.5)),
        ],
        "compare": [
            bad(TypeError, "surrogate", _n("compare"), SELF, "net", np.ones((4, 4)), np.ones(4)),
            bad(
                TypeError,
                "network_input",
                lambda: nn_compress.compare(SELF, surrogate(), np.ones((4, 4)), complex_((4, 4))),
            ),  # fmt: skip
        ],
        "ensure_dataset": [
            bad(ValueError, "preset", _n("ensure_dataset"), SerialComm(), "nope"),
            bad(TypeError, "config", _n("ensure_dataset"), SerialComm(), "small", config="x"),
        ],
        "ensure_trained": [
            bad(TypeError, "cfg", _n("ensure_trained"), SerialComm(), "cfg"),
            bad(
                TypeError,
                "log",
                lambda: nn_compress.ensure_trained(SerialComm(), train_config(), log=3),
            ),  # fmt: skip
        ],
        "error_distribution": [
            bad(
                ValueError,
                "count",
                lambda: nn_compress.error_distribution(SELF, surrogate(), "A1", count=0),
            ),  # fmt: skip
            bad(
                ValueError,
                "family",
                lambda: nn_compress.error_distribution(SELF, surrogate(), "nope"),
            ),  # fmt: skip
            bad(TypeError, "surrogate", _n("error_distribution"), SELF, None, "A1"),
        ],
        "export_network": [
            bad(
                ValueError,
                "max_bytes",
                _n("export_network"),
                tmp / "none.pt",
                tmp / "x",
                max_bytes=0,
            ),  # fmt: skip
            bad(ValueError, "dtype", _n("export_network"), tmp / "n.pt", tmp / "x", None, 1, "i"),
            bad(TypeError, "extra", _n("export_network"), tmp / "none.pt", tmp / "x", extra=[]),
        ],
        "generate": [
            bad(TypeError, "config", _n("generate"), SerialComm(), {"n_coarse": 4}, tmp / "g.h5"),
            bad(
                TypeError,
                "progress",
                _n("generate"),
                SerialComm(),
                config(2, 2, 1, {"A1": 2}),
                tmp / "g.h5",
                progress="yes",
            ),  # fmt: skip
            bad(
                TypeError,
                "reuse",
                _n("generate"),
                SerialComm(),
                config(2, 2, 1, {"A1": 2}),
                tmp / "g.h5",
                progress=False,
                reuse="a.h5",
            ),  # fmt: skip
        ],
        "layer_sizes": [
            bad(TypeError, "n_sub", _n("layer_sizes"), 4.0, 1),
            bad(ValueError, "ell", _n("layer_sizes"), 4, 0),
            bad(ValueError, "dim", _n("layer_sizes"), 4, 1, dim=1),
        ],
        "load_model": [
            bad(ValueError, "dim", _n("load_model"), "networks/paper000-plain", dim=4),
            bad(ValueError, "device", _n("load_model"), "networks/paper000-plain", device="tpu"),
            bad(TypeError, "checkpoint", _n("load_model"), None),
        ],
        "monte_carlo": [
            bad(ValueError, "samples", lambda: nn_compress.monte_carlo(SELF, surrogate(), [])),
            bad(
                TypeError,
                "fem",
                lambda: nn_compress.monte_carlo(SELF, surrogate(), [None], fem="yes"),
            ),  # fmt: skip
            bad(TypeError, "surrogate", _n("monte_carlo"), SELF, None, [None]),
        ],
        "read_split": [
            bad(ValueError, "chunk", _n("read_split"), tmp / "none.h5", "train", chunk=0),
            bad(ValueError, "split", _n("read_split"), tmp / "none.h5", "dev"),
            bad(TypeError, "dtype", _n("read_split"), tmp / "none.h5", "train", dtype=complex),
            bad(
                ValueError,
                "max_per_family",
                _n("read_split"),
                tmp / "none.h5",
                "train",
                max_per_family=-1,
            ),  # fmt: skip
        ],
        "sample": [
            bad(TypeError, "index", _n("sample"), "A1", True, 0, 8),
            bad(ValueError, "n_fine", _n("sample"), "A1", 0, 0, 0),
            bad(ValueError, "base_seed", _n("sample"), "A1", 0, -1, 8),
        ],
        "summarize": [
            bad(TypeError, "values", _n("summarize"), complex_(3)),
            bad(ValueError, "values", _n("summarize"), []),
        ],
        "train": [
            bad(
                ValueError,
                "checkpoint_seconds",
                lambda: nn_compress.train(train_config(), checkpoint_seconds=NAN),
            ),  # fmt: skip
            bad(TypeError, "log", lambda: nn_compress.train(train_config(), log=None)),
            bad(TypeError, "cfg", _n("train"), "cfg"),
        ],
        "train_network": [
            bad(TypeError, "cfg", _n("train_network"), "cfg"),
            bad(TypeError, "resume", lambda: nn_compress.train_network(train_config(), resume=1)),
        ],
    }


def _hybrid_cases():
    fourier = hybrid_pinn.MultiscaleFourierNet
    return {
        "CoarseProblem": [
            bad(TypeError, "n_coarse", _h("CoarseProblem"), True),
            bad(ValueError, "n_coarse", _h("CoarseProblem"), 2),
            bad(TypeError, "prefix", _h("CoarseProblem"), 8, prefix=3, solver="scipy"),
        ],
        "FOURIER_CONVENTIONS": [
            bad(ValueError, "convention", fourier, (1.0,), 4, 1, 4, convention="radians"),
            bad(ValueError, "fourier", hybrid_config, fourier="radians"),
        ],
        "HardDirichlet": [
            bad(TypeError, "body", _h("HardDirichlet"), "net"),
            bad(
                ValueError,
                "layer",
                lambda: hybrid_pinn.HardDirichlet(hybrid_pinn.MLP(1, 4), layer=NAN),
            ),  # fmt: skip
        ],
        "MLP": [
            bad(TypeError, "width", _h("MLP"), 2, 10.5),
            bad(ValueError, "depth", _h("MLP"), 0, 4),
            bad(ValueError, "n_models", _h("MLP"), 1, 4, n_models=0),
            bad(ValueError, "sigma", _h("MLP"), 1, 4, sigma="relu"),
        ],
        "MultiscaleFourierNet": [
            bad(TypeError, "scales", fourier, (1.0, 1j), 4, 1, 4),
            bad(ValueError, "scales", fourier, (NAN,), 4, 1, 4),
            bad(TypeError, "n_features", fourier, (1.0,), True, 1, 4),
        ],
        "SCHEDULES": [bad(ValueError, "schedule", hybrid_config, schedule="nope")],
        "TABLE_1": [bad(ValueError, "eps_inverse", _h("paper_config"), 17)],
        "Trainer": [
            bad(TypeError, "config", _h("Trainer"), "config"),
            bad(ValueError, "iteration", lambda: hybrid_pinn.Trainer(hybrid_config(), None, -1)),
        ],
        "TrainingConfig": [
            bad(TypeError, "depth", hybrid_config, depth=True),
            bad(TypeError, "eps", hybrid_config, eps=0.1 + 0j),
            bad(ValueError, "device", hybrid_config, device="tpu"),
            bad(ValueError, "betas", hybrid_config, betas=(0.9, 1.5)),
            bad(ValueError, "boundary_layer", hybrid_config, boundary_layer=-1.0),
        ],
        "coarse_state": [
            bad(
                ValueError,
                "k_tilde",
                lambda: hybrid_pinn.coarse_state(
                    torch.tensor(1 + 0j), hybrid_pinn.CoarseProblem(6, solver="scipy")
                ),
            ),  # fmt: skip
            bad(
                ValueError,
                "k_tilde",
                lambda: hybrid_pinn.coarse_state(
                    torch.tensor(NAN), hybrid_pinn.CoarseProblem(6, solver="scipy")
                ),
            ),  # fmt: skip
            bad(TypeError, "problem", _h("coarse_state"), torch.tensor(1.0), None),
        ],
        "exact_solution": [
            bad(TypeError, "x", _h("exact_solution"), complex_(3), 1 / 16),
            bad(TypeError, "eps", _h("exact_solution"), np.ones(3), True),
        ],
        "fine_reference": [
            bad(ValueError, "quadrature_degree", _h("fine_reference"), 1 / 16, 10, -1, "scipy"),
            bad(ValueError, "n_points", _h("fine_reference"), 1 / 16, 2, solver="scipy"),
            bad(ValueError, "eps", _h("fine_reference"), NAN, solver="scipy"),
        ],
        "objective_minimiser": [
            bad(TypeError, "config", _h("objective_minimiser"), "config"),
            bad(
                TypeError,
                "n_modes",
                lambda: hybrid_pinn.objective_minimiser(hybrid_config(), n_modes=True),
            ),  # fmt: skip
            bad(
                ValueError,
                "tolerance",
                lambda: hybrid_pinn.objective_minimiser(hybrid_config(), tolerance=NAN),
            ),  # fmt: skip
        ],
        "paper_config": [
            bad(ValueError, "method", _h("paper_config"), 16, "lod"),
            bad(TypeError, "foo", _h("paper_config"), 16, foo=1),
        ],
        "solve_cell_problems": [
            bad(TypeError, "domain", _h("solve_cell_problems"), None, abs, abs),
            bad(
                ValueError,
                "degree",
                lambda: hybrid_pinn.solve_cell_problems(rev_mesh(), abs, abs, degree=0),
            ),  # fmt: skip
            bad(
                TypeError,
                "coefficient",
                lambda: hybrid_pinn.solve_cell_problems(rev_mesh(), 2.0, abs),
            ),  # fmt: skip
        ],
        "solve_coarse": [
            bad(
                TypeError,
                "tensor",
                lambda: hybrid_pinn.solve_coarse(rev_mesh(), complex_((2, 2)), abs),
            ),  # fmt: skip
            bad(
                ValueError,
                "tensor",
                lambda: hybrid_pinn.solve_coarse(rev_mesh(), with_nan((2, 2), 1), abs),
            ),  # fmt: skip
            bad(ValueError, "tensor", lambda: hybrid_pinn.solve_coarse(rev_mesh(), np.ones(3), id)),
        ],
        "summarize": [
            bad(TypeError, "trainer", _h("summarize"), "trainer", 0.1),
        ],
        "train_run": [
            bad(TypeError, "overrides", _h("train_run"), 16, "hybrid", "fourier", (0,), 1, None),
            bad(TypeError, "seeds", _h("train_run"), 16, "hybrid", "fourier", "01", 1, {}),
            bad(
                ValueError,
                "log_every",
                _h("train_run"),
                16,
                "hybrid",
                "fourier",
                (0,),
                1,
                {},
                log_every=0,
            ),  # fmt: skip
        ],
        "upscaled_tensor": [
            bad(TypeError, "cells", _h("upscaled_tensor"), None),
            bad(TypeError, "blocks", lambda: hybrid_pinn.upscaled_tensor(dummy_cells(), (1.5, 1))),
            bad(
                ValueError,
                "max_condition",
                lambda: hybrid_pinn.upscaled_tensor(dummy_cells(), max_condition=NAN),
            ),  # fmt: skip
        ],
    }


def _no_arguments():
    """Entry points without arguments to check: data made elsewhere, or no parameters."""

    def pglod_result():  # made by pglod_solve; its fields are not checked
        cls = lod_fenicsx.PGLODResult
        assert dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__")

    def presets():  # every preset passes GenerationConfig's checks (again, from its JSON)
        for name, config in nn_compress.presets().items():
            assert nn_compress.GenerationConfig.from_json(config.to_json()) == config, name

    def world_comm():
        comm = nn_compress.world_comm()
        assert comm.rank == 0 and comm.size >= 1

    return {
        "lod_fenicsx.PGLODResult": pglod_result,
        "nn_compress.presets": presets,
        "nn_compress.world_comm": world_comm,
    }


def cases(tmp) -> dict:
    out = {}
    for package, table in (
        ("lod_fenicsx", _lod_cases()),
        ("nn_compress", _nn_cases(tmp)),
        ("hybrid_pinn", _hybrid_cases()),
    ):
        out.update({f"{package}.{name}": calls for name, calls in table.items()})
    return out


def _names_the_argument(message: str, argument: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(argument)}(?!\w)", message) is not None


@pytest.mark.parametrize("name", PUBLIC)
def test_contract(name, tmp_path, monkeypatch):
    """Each bad call of ``name`` raises its error type, with a message that names the argument."""
    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[1])  # networks/paper000-plain
    if name in _no_arguments():
        _no_arguments()[name]()
        return
    calls = cases(tmp_path)[name]
    assert calls, name
    for case in calls:
        with pytest.raises(case.error) as info:
            case.call()
        message = str(info.value)
        assert _names_the_argument(message, case.argument), (case.argument, message)
        assert "\n" not in message.strip(), message


def test_every_public_name_has_a_case(tmp_path):
    assert sorted([*cases(tmp_path), *_no_arguments()]) == PUBLIC


def _readme_table() -> dict[str, list[str]]:
    text = README.read_text()
    match = re.search(r"^## API contract\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no section '## API contract'"
    rows = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([\w.]+)`", cells[0]) if line.startswith("|") else None
        if name:
            rows[name.group(1)] = cells
    return rows


def test_readme_table_lists_every_public_name():
    """One row per name of the three ``__all__`` lists (no more), each pointing to its test."""
    rows = _readme_table()
    assert sorted(rows) == PUBLIC, set(PUBLIC) ^ set(rows)
    for name, cells in rows.items():
        assert len(cells) == 3 and cells[1], name
        assert f"test_contract[{name}]" in cells[2], (name, cells[2])


def test_shared_checks():
    """The helpers themselves: the type of each refusal and the argument in its message."""
    from plumbing import checks

    assert checks.check_size("n", np.int64(3)) == 3
    for value in (True, 3.0, "3", None):
        with pytest.raises(TypeError, match="^n must be an integer"):
            checks.check_size("n", value)
    with pytest.raises(ValueError, match="^n 0: must be at least 1"):
        checks.check_size("n", 0)
    assert issubclass(checks.ArgumentTypeError, ValueError)  # the CLI contract's user error
    for value in (1j, True, "1", np.ones(2)):
        with pytest.raises(TypeError, match="^x must be a real number"):
            checks.check_real("x", value)
    for value in (NAN, math.inf):
        with pytest.raises(ValueError, match="^x must be a finite number"):
            checks.check_real("x", value)
    with pytest.raises(ValueError, match="^x has 1 non-finite value"):
        checks.check_real_array("x", [1.0, NAN])
    with pytest.raises(ValueError, match="^x has shape \\(2,\\), expected \\(3\\)"):
        checks.check_real_array("x", [1.0, 2.0], shape=(3,))
    with pytest.raises(TypeError, match="^f must be True or False"):
        checks.check_flag("f", 1)
    with pytest.raises(ValueError, match="^c must be one of 'a', 'b'; got True"):
        checks.check_choice("c", True, ("a", "b"))
    assert checks.check_device("d", "cpu") == torch.device("cpu")
    for device in ("tpu", "cuda:x", "meta"):
        with pytest.raises(ValueError, match=f"^d '{device}' \\(--d\\)"):
            checks.check_device("d", device, flag="--d")
    assert checks.check_device("d", "cuda:7", present=False) == torch.device("cuda:7")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_cuda_device_without_a_gpu_is_one_value_error():
    for call in (
        lambda: nn_compress.NNLODSurrogate(
            nn_compress.CompressionNetwork([36, 64]), 2, 2, 1, device="cuda"
        ),  # fmt: skip
        lambda: hybrid_config(device="cuda"),
        lambda: lod_fenicsx.PatchSolver(2, 2, 1, backend="torch", device="cuda"),
        lambda: nn_compress.load_model("networks/paper000-plain", device="cuda:0"),
    ):
        with pytest.raises(ValueError, match="device 'cuda(:0)?'.* sees no CUDA GPU"):
            call()
