"""PG-LOD with Neumann faces against the whole-grid SciPy reference on cases the tests do not hold.

Issue 32 asks for an independent check of u_H for mixed homogeneous Dirichlet/Neumann faces on
gridlod's cases: ``benchmarks/boundary_gridlod_check.py`` runs gridlod itself (assembled from its
public source, which is not on the package index these machines reach); the check here is
against ``tests/lod_reference.py``: gridlod's
definition of the method with Neumann faces (the coarse nodes on Neumann faces are unknowns,
I_H keeps them with 1/n_z over the elements of D, the correctors vanish on the Dirichlet part of
∂D and on the patch boundary inside D and are free on Neumann faces), written on the whole fine
grid with dense saddle-point solves and none of the padded-patch code. Grids, n, ℓ, coefficients
and faces differ from the tests' (which use n = 2, ℓ = 1 and N_H - 1). Writes
benchmarks/boundary_reference_check.json and .md::

    python3 benchmarks/boundary_reference_check.py
"""

import json
import pathlib
import sys

import numpy as np
from mpi4py import MPI

from lod_fenicsx.pglod import pglod_solve
from nn_compress.fields import sample

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from lod_reference import pglod_solution  # noqa: E402

# (d, N_H, n, ℓ, family, Neumann faces)
CASES = [
    (2, 6, 3, 2, "lognormal-high", ("x0",)),
    (2, 6, 3, 1, "lognormal-high", ("y0", "y1", "x1")),
    (2, 4, 4, 2, "Ams", ("x0", "x1")),
    (2, 8, 2, 3, "cracks", ("y1",)),
    (2, 7, 3, 1, "smooth", ("x0", "y0")),
    (3, 4, 3, 1, "lognormal-moderate", ("y0", "y1", "z0", "z1")),
    (3, 4, 2, 2, "lognormal-high", ("x1", "z0")),
    (3, 4, 2, 1, "Ams", ("x0", "x1", "y0", "y1", "z1")),
]


def main():
    rows = []
    for dim, n_coarse, n_sub, ell, family, faces in CASES:
        a = sample(family, 0, 32, n_coarse * n_sub, dim).coefficient
        x = np.meshgrid(*(np.arange(n_coarse + 1) / n_coarse,) * dim, indexing="ij")[::-1][0]
        with pglod_solve(MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="x", neumann=faces) as r:
            u = r.u_coarse.ravel()
        expected = pglod_solution(a, n_coarse, n_sub, ell, x, faces)
        error = float(np.abs(u - expected).max() / np.abs(expected).max())
        row = dict(
            dim=dim,
            n_coarse=n_coarse,
            n_sub=n_sub,
            ell=ell,
            coefficient=family,
            contrast=float(a.max() / a.min()),
            neumann=" ".join(faces),
            max_u=float(np.abs(expected).max()),
            relative_error=error,
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    (HERE / "boundary_reference_check.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# PG-LOD with Neumann faces against the whole-grid SciPy reference",
        "",
        "Written by `benchmarks/boundary_reference_check.py` (f = x, sample 0 of each family, "
        "base seed 32): max |u_H − u_H^ref| / max |u_H^ref|. Against gridlod itself: "
        "`boundary_gridlod_check.md`.",
        "",
        "| d | N_H | n | ℓ | coefficient | contrast | Neumann faces | rel. error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dim']} | {r['n_coarse']} | {r['n_sub']} | {r['ell']} | {r['coefficient']} | "
            f"{r['contrast']:.3g} | {r['neumann']} | {r['relative_error']:.1e} |"
        )
    (HERE / "boundary_reference_check.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
