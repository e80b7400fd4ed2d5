"""The environment: the pinned stack, an optimized BLAS, and DOLFINx assembly on any rank count."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

import hybrid_pinn
import lod_fenicsx
import nn_compress

ROOT = Path(__file__).resolve().parents[1]


def test_stack_versions():
    import dolfinx
    import h5py
    import petsc4py
    import torch
    import ufl

    assert dolfinx.__version__ == "0.9.0"
    assert petsc4py.__version__.startswith("3.22")
    assert ufl.__version__.startswith("2024.2")
    assert int(torch.__version__.split(".")[0]) == 2
    assert h5py.get_config().mpi, "h5py must be built with parallel HDF5"
    for package in (lod_fenicsx, nn_compress, hybrid_pinn):
        assert package.__version__ == "0.1.0"


def test_optimized_blas():
    """The reference BLAS made a training step 14x slower: OpenBLAS must be the one in use."""
    blas = os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    if not os.path.exists(blas):
        pytest.skip("not a Debian-alternatives system (conda)")
    assert "openblas" in blas


def _stiffness_frobenius(comm: MPI.Comm, n: int = 8) -> float:
    """Frobenius norm of the Q1 stiffness matrix of -div(a grad u), a = 1 + x y, n x n quad mesh."""
    import ufl
    from dolfinx import fem, mesh
    from dolfinx.fem.petsc import assemble_matrix

    domain = mesh.create_unit_square(comm, n, n, mesh.CellType.quadrilateral)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    x = ufl.SpatialCoordinate(domain)
    A = assemble_matrix(fem.form((1 + x[0] * x[1]) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    A.assemble()
    ones, row_sums = A.createVecs()
    ones.set(1.0)
    A.mult(ones, row_sums)
    assert row_sums.norm() < 1e-12, "row sums of a stiffness matrix vanish"
    norm = A.norm(3)  # PETSc.NormType.FROBENIUS
    for obj in (A, ones, row_sums):
        obj.destroy()
    return norm


def test_stiffness_serial_value():
    # Value recorded from the first run of this stack (DOLFINx 0.9.0, 8 x 8 quadrilaterals).
    assert _stiffness_frobenius(MPI.COMM_SELF) == pytest.approx(9.416666666666659, rel=1e-12)


@pytest.mark.mpi
def test_stiffness_rank_independent():
    comm = MPI.COMM_WORLD
    parallel = _stiffness_frobenius(comm)
    serial = _stiffness_frobenius(MPI.COMM_SELF)
    assert parallel == pytest.approx(serial, rel=1e-12)
    assert comm.allreduce(1) == comm.size
    assert np.isfinite(parallel)


def _launcher_mpi_settings(text: str) -> dict[str, str]:
    """KEY=VALUE pairs of the OMPI_/PRTE_ variables in a shell or Dockerfile text."""
    return dict(re.findall(r"\b((?:OMPI|PRTE)_[A-Za-z_]+)=(\S+?)(?=\s|\\|$)", text))


def test_dockerfile_transcribes_package_list_and_mpi_settings():
    """The image installs exactly env/debian-packages.txt and runs MPI as the launcher does."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    launcher = (ROOT / "run").read_text()
    assert "FROM debian:trixie-slim" in dockerfile
    assert "env/debian-packages.txt" in dockerfile
    packages = (ROOT / "env" / "debian-packages.txt").read_text()
    assert "# suite: trixie" in packages
    settings = _launcher_mpi_settings(launcher)
    assert len(settings) >= 8
    assert _launcher_mpi_settings(dockerfile) == settings


def test_conda_environment_pins_the_same_versions():
    import dolfinx
    import petsc4py
    from mpi4py import MPI as _  # noqa: F401
    import mpi4py
    import ufl

    yml = (ROOT / "environment.yml").read_text()
    pins = dict(re.findall(r"^\s*-\s*([\w-]+)=([\d.]+)", yml, flags=re.M))
    installed = {
        "fenics-dolfinx": dolfinx.__version__,
        "petsc4py": petsc4py.__version__,
        "mpi4py": mpi4py.__version__,
        "fenics-ufl": ufl.__version__,
    }
    for name, version in installed.items():
        assert version.startswith(pins[name] + "."), (
            f"{name}: environment.yml {pins[name]}, Debian {version}"
        )


def test_blas_threads_reach_openblas():
    """threadpoolctl finds the stack's OpenBLAS, and blas_threads sets and restores its count."""
    import numpy  # noqa: F401  (loads OpenBLAS)
    from threadpoolctl import threadpool_info

    from plumbing.threads import blas_threads

    def count():
        return [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]

    before = count()
    assert before, "threadpoolctl does not see OpenBLAS"
    with blas_threads(1):
        assert count() == [1] * len(before)
    assert count() == before


def test_ruff_comes_with_the_environment_at_its_one_pin():
    """Ruff is installed when the environment is built, at the version pinned once in the package
    list (a '# pip:' line) that the Dockerfile, the launcher and env/test.sh all read; the tests
    install nothing, so they run without a package index."""
    packages = (ROOT / "env" / "debian-packages.txt").read_text()
    pins = dict(re.findall(r"^# pip: *([\w-]+)==(\S+)", packages, re.M))
    ruff = shutil.which("ruff")
    assert ruff, "ruff is missing: rebuild the environment (README, 'The environment')"
    version = subprocess.run([ruff, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"ruff {pins['ruff']}"
    for name in ("Dockerfile", "run", "env/test.sh"):
        text = (ROOT / name).read_text()
        assert "# pip:" in text, f"{name} does not read the '# pip:' lines"
        assert pins["ruff"] not in text, f"{name} repeats the ruff version"
    test_sh = (ROOT / "env" / "test.sh").read_text()
    assert not re.search(r"^\s*(python3 -m )?pip install", test_sh, re.M), "tests install nothing"
