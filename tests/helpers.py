"""Helpers shared by the tests (no tests here)."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEMOS = ROOT / "demos"

# What a GPU machine may lack: importing any of these raises ImportError in ``run_without_fenics``.
FENICS_AND_MPI = (
    "dolfinx",
    "petsc4py",
    "mpi4py",
    "ufl",
    "basix",
    "ffcx",
    "matplotlib",
    "tqdm",
    "threadpoolctl",
)


def solve_argv(coefficient, out, *extra) -> list[str]:
    """Arguments of `python3 -m lod_fenicsx solve` on the tests' grid (N_H = 4, n = 2, ℓ = 1)."""
    return [
        "solve",
        "--coefficient",
        str(coefficient),
        "--n-coarse",
        "4",
        "--n-sub",
        "2",
        "--ell",
        "1",
        "--out",
        str(out),
        *extra,
    ]


# A hybrid PINN small enough for a test: a few iterations in well under a second.
SMALL_HYBRID = dict(
    eps=0.5,
    width=30,
    n_features=15,
    n_collocation=64,
    n_coarse=17,
    window=1,
    n_reference=200,
)


def load_demo(name: str):
    """A demo script as a module (its ``main`` callable with an argument list)."""
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_without_fenics(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a fresh process without DOLFINx, PETSc or MPI, outside any MPI
    launcher: what the GPU machine has (torch, NumPy, SciPy, h5py)."""
    prelude = (
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        f"for _name in {FENICS_AND_MPI!r}:\n    sys.modules[_name] = None\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE")
    }
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def solve_command(coefficient, n_coarse: int, n_sub: int, ell: int, out, *extra) -> list[str]:
    """The command line of ``python3 -m lod_fenicsx solve``."""
    return [
        sys.executable,
        "-m",
        "lod_fenicsx",
        "solve",
        "--coefficient",
        str(coefficient),
        "--n-coarse",
        str(n_coarse),
        "--n-sub",
        str(n_sub),
        "--ell",
        str(ell),
        "--out",
        str(out),
        *extra,
    ]


class UnitVectors:
    """Stands in for a Generator: the j-th standard_normal call returns the j-th unit vector
    (so a sampler g = L ξ, linear in its normal variates, gives the columns of L one by one)."""

    def __init__(self):
        self.j = 0

    def standard_normal(self, shape):
        out = np.zeros(shape)
        out.flat[self.j] = 1.0
        self.j += 1
        return out


def backend_coefficient(kind: str, n_fine: int, seed: int = 0) -> np.ndarray:
    """Test coefficients for comparing corrector backends: ``iid`` uniform in [1, 5],
    ``lognormal`` (i.i.d., contrast ~1e5 on small grids), ``constant`` (every coarse element
    alike) or ``channels`` (1 with channels of 1e4)."""
    rng = np.random.default_rng(seed)
    if kind == "iid":
        return rng.uniform(1.0, 5.0, (n_fine, n_fine))
    if kind == "lognormal":
        return np.exp(2.0 * rng.standard_normal((n_fine, n_fine)))
    if kind == "constant":
        return np.full((n_fine, n_fine), 3.0)
    channels = np.ones((n_fine, n_fine))
    channels[n_fine // 3, :] = channels[:, n_fine // 2] = 1e4
    return channels * rng.uniform(1.0, 2.0, (n_fine, n_fine))


def worst_relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference of two sets of local matrices, relative to each matrix's size."""
    scale = np.abs(a).reshape(a.shape[0], -1).max(axis=1)
    return float((np.abs(a - b).reshape(a.shape[0], -1).max(axis=1) / scale).max())


def boom(*args, **kwargs):
    raise AssertionError("work started before the arguments were checked")


def markdown_tables(text: str) -> tuple[int, list[int]]:
    """The number of Markdown tables in ``text`` and the lines (1-based) of their rows, headers
    included, whose cell count is not their delimiter row's: a bare '|' inside a cell (as in
    |E û − E u|) splits it and the table renders wrongly; an escaped \\| is text in a cell."""

    def cells(line: str) -> int:
        return len(re.findall(r"(?<!\\)\|", line))

    lines, tables, bad, fenced = text.split("\n"), 0, [], False
    for i, line in enumerate(lines):
        fenced ^= line.lstrip().startswith("```")
        if fenced or not re.match(r"^\|\s*:?-{3}", line):
            continue
        tables, n, j = tables + 1, cells(line), i + 1
        bad += [i] if cells(lines[i - 1]) != n else []
        while j < len(lines) and lines[j].startswith("|"):
            bad += [j + 1] if cells(lines[j]) != n else []
            j += 1
    return tables, bad
