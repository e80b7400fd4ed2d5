"""PG-LOD u_H with mixed homogeneous Dirichlet/Neumann faces against gridlod's, case by case.

Issue 32's last acceptance item: u_H of ``pglod_solve(..., neumann=faces)`` must match the
reference code gridlod (``world.World(NWorldCoarse, NCoarseElement, boundaryConditions)``,
``boundaryConditions[axis, side]`` with axis 0 = x, 1 = Neumann) on cases the tests do not hold.
gridlod is GPL-licensed and not on the package index these machines reach, so it is never part
of this repository: point the script at a checkout (the folder that holds ``gridlod/``) with
``--gridlod`` or ``$GRIDLOD_PATH``.

gridlod's side is its own PG-LOD pipeline, as in its tests and examples: for every coarse element
T a ``Patch(world, ℓ, T)``, ``interp.L2ProjectionPatchMatrix(..., boundaryConditions)`` as I_H,
``lod.computeBasisCorrectors`` and ``lod.computeBasisCoarseQuantities`` (Kmsij),
``pglod.assembleMsStiffnessMatrix`` and ``pglod.solve``; the load is gridlod's usual
``MFull @ f`` with the coarse Q1 mass matrix and f ≡ 1, which is exactly our ``rhs="one"``
(the L2 pairing (1, λ_i)). Both sides get the same coefficient (our ``[iy, ix]`` /
``[iz, iy, ix]`` array raveled in C order is gridlod's x-fastest element order) and their u_H are
compared node by node (same x-fastest node order).

Before the comparison the script checks the gridlod it imported on its own terms: with global
patches (ℓ = N_H) and the Galerkin load (f, (1 − Q) λ_i) the LOD solution is exact,
u_H = I_H u_h, u_h the fine Q1 solution with the same faces (the stiffness matrices of the
ideal PG and Galerkin LOD coincide; with the PG load (f, λ_i) u_H differs from I_H u_h by
O(H)); this uses gridlod's own fine assembly, correctors and I_H, none of lod_fenicsx.
Writes benchmarks/boundary_gridlod_check.json and .md::

    ./run python3 benchmarks/boundary_gridlod_check.py --gridlod /tmp/gridlod-src
"""

import argparse
import importlib
import json
import os
import pathlib
import sys
import time

import numpy as np
import scipy.sparse.linalg
from mpi4py import MPI

from lod_fenicsx.pglod import pglod_solve

HERE = pathlib.Path(__file__).resolve().parent

# Where the gridlod of the committed result came from (assembled under /tmp, never committed).
GRIDLOD_SOURCE = (
    "gridlod assembled from the stored public-code index: gridlod/{lod,pglod,interp,world}.py "
    "of fredrikhellman/gridlod (lod 0a5390ce, pglod 2d828825, interp 8a88219e, world 67d883e7; "
    "lod and pglod cut to the functions used here, lod without its coef/transport imports); "
    "util.py and fem.py (the package-layout versions: Python 3, boundaryMap in "
    "boundarypIndexMap, localBasis as a matrix) from the gridlod copy in "
    "DKolombage/offline-online-preconditioning 16808cc6, without that repository's additions; "
    "linalg.py a Python 3 port of fredrikhellman/gridlod's top-level linalg.py 0920dc84 "
    "(schurComplementSolve, the imposeBoundaryConditionsStrongly* helpers) with SciPy's splu "
    "in place of CHOLMOD"
)

# (d, N_H, n, ℓ, coefficient, Neumann faces); no Neumann faces = the all-Dirichlet set-up check.
CASES = [
    (2, 4, 2, 1, "uniform", ()),
    (2, 5, 4, 2, "lognormal", ()),
    (2, 5, 2, 1, "uniform", ("x0",)),
    (2, 6, 4, 2, "lognormal", ("x1",)),
    (2, 5, 4, 1, "lognormal", ("y0",)),
    (2, 6, 2, 2, "uniform", ("y1",)),
    (2, 5, 2, 2, "lognormal", ("x0", "x1")),
    (2, 6, 4, 1, "uniform", ("y0", "y1")),
    (2, 6, 2, 1, "lognormal", ("x0", "y0", "y1")),
    (2, 5, 4, 2, "uniform", ("x0", "x1", "y1")),
    (3, 3, 2, 1, "uniform", ()),
    (3, 4, 2, 1, "lognormal", ("z0",)),
    (3, 3, 2, 2, "uniform", ("x1", "y0")),
    (3, 4, 2, 1, "lognormal", ("x0", "x1", "z1")),
    (3, 3, 4, 1, "uniform", ("y0", "y1")),
]

# gridlod's own exactness check: ℓ = N_H (global patches) and the Galerkin load
# (f, (1 − Q) λ_i): then u_H = I_H u_h.
SELF_CHECKS = [
    (2, 4, 2, "lognormal", ()),
    (2, 4, 2, "lognormal", ("x0", "y1")),
    (2, 3, 4, "uniform", ("x0", "x1", "y0")),
    (3, 3, 2, "lognormal", ("y0", "z1")),
]


def load_gridlod(path):
    """Import gridlod from ``path`` (the folder holding ``gridlod/``), or exit with one line."""
    path = path or os.environ.get("GRIDLOD_PATH")
    if not path or not (pathlib.Path(path) / "gridlod" / "__init__.py").is_file():
        where = f"no gridlod package under {path!r}" if path else "gridlod not given"
        sys.exit(
            f"boundary_gridlod_check: {where}; pass --gridlod DIR or set GRIDLOD_PATH to the "
            "folder that holds gridlod/ (gridlod is GPL-licensed and not shipped here)"
        )
    sys.path.insert(0, str(pathlib.Path(path).resolve()))
    for name in ("fem", "interp", "lod", "pglod", "util", "world"):
        importlib.import_module(f"gridlod.{name}")
    return sys.modules["gridlod"]


def coefficient(kind, dim, n_fine, seed):
    rng = np.random.default_rng(seed)
    shape = (n_fine,) * dim
    if kind == "uniform":
        return rng.uniform(1.0, 10.0, shape)
    if kind == "lognormal":
        return np.exp(rng.normal(0.0, 1.0, shape))
    raise ValueError(kind)


def boundary_conditions(dim, faces):
    """gridlod's ``boundaryConditions[axis, side]`` (axis 0 = x), 1 = Neumann."""
    bc = np.zeros((dim, 2), dtype="int64")
    for face in faces:
        bc["xyz".index(face[0]), int(face[1])] = 1
    return bc


def gridlod_pglod(gl, a, n_coarse, n_sub, ell, faces, galerkin_load=False):
    """u_H of gridlod's PG-LOD (f ≡ 1, load MFull @ 1), x-fastest node order.

    ``galerkin_load`` (global patches only): the load (1, (1 − Q) λ_i) of the Galerkin LOD
    instead, for the exactness check.
    """
    dim = a.ndim
    n_world = np.full(dim, n_coarse, dtype="int64")
    n_element = np.full(dim, n_sub, dtype="int64")
    bc = boundary_conditions(dim, faces)
    w = gl.world.World(n_world, n_element, bc)
    a_fine = a.ravel()
    patches, kms = [], []
    corner = gl.util.lowerLeftpIndexMap(np.ones_like(n_world), n_world)
    first_corner = gl.util.lowerLeftpIndexMap(n_world - 1, n_world)
    if galerkin_load:
        assert ell >= n_coarse, "the Galerkin load needs global patches"
        fine_mass = gl.fem.assemblePatchMatrix(n_world * n_element, w.MLocFine)
        fine_load = fine_mass @ np.ones(w.NpFine)
        corrector_load = np.zeros(w.NpCoarse)
    for t in range(w.NtCoarse):
        patch = gl.world.Patch(w, ell, t)
        i_patch = gl.interp.L2ProjectionPatchMatrix(
            patch.iPatchWorldCoarse, patch.NPatchCoarse, n_world, n_element, bc
        )
        cells = gl.util.extractPatchFine(
            n_world, n_element, patch.iPatchWorldCoarse, patch.NPatchCoarse, extractElements=True
        )
        a_patch = a_fine[cells]
        correctors = gl.lod.computeBasisCorrectors(patch, i_patch, a_patch)
        csi = gl.lod.computeBasisCoarseQuantities(patch, correctors, a_patch)
        patches.append(patch)
        kms.append(csi.Kmsij)
        if galerkin_load:  # (1, Q_T λ_j) onto T's corner nodes (the patch is the whole grid)
            corrector_load[first_corner[t] + corner] += [fine_load @ q for q in correctors]
    k_full = gl.pglod.assembleMsStiffnessMatrix(w, patches, kms)
    m_full = gl.fem.assemblePatchMatrix(n_world, w.MLocCoarse)
    b_full = m_full @ np.ones(w.NpCoarse)
    if galerkin_load:
        b_full = b_full - corrector_load
    u_full, _ = gl.pglod.solve(w, k_full, b_full, bc)
    return u_full


def gridlod_exactness(gl, a, n_coarse, n_sub, faces):
    """max |u_H − I_H u_h| / max |u_H| of gridlod's PG-LOD with global patches (ℓ = N_H)."""
    dim = a.ndim
    n_world = np.full(dim, n_coarse, dtype="int64")
    n_element = np.full(dim, n_sub, dtype="int64")
    bc = boundary_conditions(dim, faces)
    w = gl.world.World(n_world, n_element, bc)
    n_fine = n_world * n_element
    stiffness = gl.fem.assemblePatchMatrix(n_fine, w.ALocFine, a.ravel())
    load = gl.fem.assemblePatchMatrix(n_fine, w.MLocFine) @ np.ones(w.NpFine)
    fixed = gl.util.boundarypIndexMap(n_fine, bc == 0)
    free = np.setdiff1d(np.arange(w.NpFine), fixed)
    u_fine = np.zeros(w.NpFine)
    u_fine[free] = scipy.sparse.linalg.spsolve(stiffness[free][:, free].tocsc(), load[free])
    i_h = gl.interp.L2ProjectionPatchMatrix(
        np.zeros(dim, dtype="int64"), n_world, n_world, n_element, bc
    )
    u_h = gridlod_pglod(gl, a, n_coarse, n_sub, n_coarse, faces, galerkin_load=True)
    return float(np.abs(u_h - i_h @ u_fine).max() / np.abs(u_h).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gridlod", help="folder that holds gridlod/ (default $GRIDLOD_PATH)")
    parser.add_argument("--seed", type=int, default=2026, help="base seed of the coefficients")
    args = parser.parse_args()
    gl = load_gridlod(args.gridlod)

    checks = []
    for i, (dim, n_coarse, n_sub, kind, faces) in enumerate(SELF_CHECKS):
        a = coefficient(kind, dim, n_coarse * n_sub, args.seed + 100 + i)
        error = gridlod_exactness(gl, a, n_coarse, n_sub, faces)
        row = dict(
            dim=dim,
            n_coarse=n_coarse,
            n_sub=n_sub,
            ell=n_coarse,
            coefficient=kind,
            neumann=" ".join(faces) or "-",
            relative_error=error,
        )
        checks.append(row)
        print("gridlod self-check", json.dumps(row), flush=True)

    rows = []
    for i, (dim, n_coarse, n_sub, ell, kind, faces) in enumerate(CASES):
        a = coefficient(kind, dim, n_coarse * n_sub, args.seed + i)
        start = time.perf_counter()
        with pglod_solve(
            MPI.COMM_SELF, a, n_coarse, n_sub, ell, rhs="one", neumann=faces or None
        ) as r:
            ours = r.u_coarse.ravel().copy()
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        theirs = gridlod_pglod(gl, a, n_coarse, n_sub, ell, faces)
        t_theirs = time.perf_counter() - start
        # Does the comparison see the axis order? gridlod's u_H with the faces moved to the
        # next axis (x -> y, y -> x in 2-D; x -> y -> z -> x in 3-D), same coefficient.
        rotated = tuple(sorted("xyz"[("xyz".index(f[0]) + 1) % dim] + f[1] for f in faces))
        if sorted(rotated) != sorted(faces):
            moved = gridlod_pglod(gl, a, n_coarse, n_sub, ell, rotated)
            change = float(np.abs(ours - moved).max() / np.abs(moved).max())
        else:
            rotated, change = (), None
        row = dict(
            dim=dim,
            n_coarse=n_coarse,
            n_sub=n_sub,
            ell=ell,
            coefficient=kind,
            seed=args.seed + i,
            contrast=float(a.max() / a.min()),
            neumann=" ".join(faces) or "-",
            max_u=float(np.abs(theirs).max()),
            relative_difference=float(np.abs(ours - theirs).max() / np.abs(theirs).max()),
            rotated_faces=" ".join(rotated) or "-",
            difference_to_rotated=change,
            seconds_ours=round(t_ours, 3),
            seconds_gridlod=round(t_theirs, 3),
        )
        rows.append(row)
        print(json.dumps(row), flush=True)

    worst = max(r["relative_difference"] for r in rows)
    result = dict(
        command="./run python3 benchmarks/boundary_gridlod_check.py --gridlod /tmp/gridlod-src",
        gridlod_source=GRIDLOD_SOURCE,
        gridlod_self_checks=checks,
        cases=rows,
        worst_relative_difference=worst,
    )
    (HERE / "boundary_gridlod_check.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# PG-LOD with Neumann faces against gridlod",
        "",
        "Written by `benchmarks/boundary_gridlod_check.py` (see its docstring for where gridlod "
        "comes from; it is not part of this repository):",
        "",
        "```bash",
        result["command"],
        "```",
        "",
        'u_H of `pglod_solve(MPI.COMM_SELF, a, N_H, n, ℓ, rhs="one", neumann=faces)` against '
        "u_H of gridlod's PG-LOD (`boundaryConditions[axis, side] = 1` on the same faces, load "
        "`MFull @ 1`), same coefficient: max |u_H − u_H^gridlod| / max |u_H^gridlod|. "
        "Coefficients i.i.d. per fine cell: uniform on [1, 10] or exp(N(0, 1)), seed "
        f"{args.seed} + case index. {GRIDLOD_SOURCE}. "
        "Rows with Neumann faces '-' are the all-Dirichlet set-up "
        "check. The last two columns show that the check sees the axis order: our u_H against "
        "gridlod's with the Neumann faces moved to the next axis (x → y → x in 2-D, "
        "x → y → z → x in 3-D), in the same relative measure.",
        "",
        "| d | N_H | n | ℓ | coefficient | contrast | Neumann faces | max abs u_H "
        "| rel. difference | faces moved | rel. difference to moved |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dim']} | {r['n_coarse']} | {r['n_sub']} | {r['ell']} | {r['coefficient']} | "
            f"{r['contrast']:.3g} | {r['neumann']} | {r['max_u']:.3e} | "
            f"{r['relative_difference']:.1e} | {r['rotated_faces']} | "
            + ("-" if r["difference_to_rotated"] is None else f"{r['difference_to_rotated']:.2f}")
            + " |"
        )
    lines += [
        "",
        f"Largest relative difference: {worst:.1e}.",
        "",
        "gridlod checked on its own first (no lod_fenicsx involved): with global patches "
        "(ℓ = N_H) and the Galerkin load (1, (1 − Q) λ_i) its LOD is exact, u_H = I_H u_h with "
        "u_h its fine Q1 solution and I_H its L2ProjectionPatchMatrix with the same "
        "boundaryConditions; max |u_H − I_H u_h| / max |u_H|:",
        "",
        "| d | N_H | n | ℓ | coefficient | Neumann faces | rel. error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in checks:
        lines.append(
            f"| {r['dim']} | {r['n_coarse']} | {r['n_sub']} | {r['ell']} | {r['coefficient']} | "
            f"{r['neumann']} | {r['relative_error']:.1e} |"
        )
    (HERE / "boundary_gridlod_check.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
