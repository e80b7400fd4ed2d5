"""``plumbing.timing.phase``: wall-clock phases that are also PETSc log events."""

import numpy as np
from helpers import run_without_fenics
from mpi4py import MPI
from petsc4py import PETSc

from lod_fenicsx.pglod import pglod_solve

# Event (numhom:<name>) -> how often one pglod_solve on one rank with 4 x 4 patches begins it.
N_COARSE = 4
EVENTS = {
    "meshes": 1,
    "local_matrices": 1,
    "global_assembly": 1,
    "coarse_solve": 1,
    "corrected_solution": 1,
    "patch_assembly": N_COARSE**2,
    "patch_factorization": N_COARSE**2,
    "patch_solves": N_COARSE**2,
    "patch_products": N_COARSE**2,
}


def _perf(name: str) -> dict:
    return PETSc.Log.Event(f"numhom:{name}").getPerfInfo()


def test_pglod_phases_are_petsc_log_events():
    PETSc.Log.begin()  # what -log_view does: count and time every event from here on
    before = {name: _perf(name) for name in EVENTS}
    a = np.random.default_rng(0).uniform(1.0, 2.0, (N_COARSE * 2,) * 2)
    res = pglod_solve(MPI.COMM_SELF, a, N_COARSE, 2, 1, corrected=True)
    after = {name: _perf(name) for name in EVENTS}

    counts = {name: after[name]["count"] - before[name]["count"] for name in EVENTS}
    assert counts == EVENTS
    # The timing keys (and their order) that benchmarks and the CLI read.
    assert list(res.timings) == [
        "meshes",
        "local_matrices",
        "assembly",
        "coarse_solve",
        "corrected_solution",
    ]
    assert sorted(res.patch_timings) == ["assembly", "factorization", "products", "solves"]
    # PETSc's event time brackets the same block as the wall-clock phase.
    for key, event in (("local_matrices", "local_matrices"), ("assembly", "global_assembly")):
        seconds = after[event]["time"] - before[event]["time"]
        assert abs(seconds - res.timings[key]) <= 0.05 * res.timings[key] + 1e-3, (key, seconds)
    seconds = after["patch_factorization"]["time"] - before["patch_factorization"]["time"]
    assert abs(seconds - res.patch_timings["factorization"]) <= 1e-3


def test_phase_without_petsc4py():
    """Adds seconds (also when the block raises) and never imports petsc4py itself."""
    proc = run_without_fenics(
        """
        import sys, time
        from plumbing.timing import phase

        timings = {"x": 1.0}
        with phase(timings, "x"):
            time.sleep(0.02)
        try:
            with phase(timings, "y", event="other"):
                raise KeyError("y")
        except KeyError:
            pass
        assert 1.02 <= timings["x"] < 1.5 and 0.0 <= timings["y"] < 0.5, timings
        assert sys.modules.get("petsc4py.PETSc") is None
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
