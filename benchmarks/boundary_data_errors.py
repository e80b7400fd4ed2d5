"""PG-LOD errors with non-zero boundary data against the fine FEM (issue 32, part 2).

The method: u = u_0 + g̃ with g̃ ∈ V_H the coarse nodal interpolant of g on the Dirichlet faces
(0 at the free nodes), its correctors included (``pglod.pglod_solve``): (1 − Q^ℓ) u_H equals g̃ on
the Dirichlet faces, not g. So with data the PG-LOD error may grow, over the error with zero data,
by at most about the error that replacing g by g̃ causes in the fine solution itself. The flux ψ
is corrected too: boundary-load correctors R_T (a(R_T, w) = (ψ, w)_{∂D_N ∩ ∂T} on T's patch, w in
the correctors' space) enter the coarse load as − a(R, λ_i) and the fine function as
(1 − Q^ℓ) u_H + R, R = Σ_T R_T.

2-D, N_H = 16, n = 8 (128² fine cells), ℓ = 1, 2, 3, f = 1, Dirichlet on x0 and x1, Neumann on
y0 and y1, on a smooth coefficient (paper 000's 2 + sin 2πx sin 2πy) and a rough one (a
lognormal field of the 10³ contrast class). Three problems:

* zero data: u = 0 on x0, x1, no flux through y0, y1;
* data: u = g on x0 (g = 1 + ½ sin 3πy) and x1 (g = y²), flux ψ = ½ on y1 (A∇u·ν), each
  alone and both;
* for the interpolation error of g: the fine solution with g replaced by g̃.

The flux enters the load as (ψ, λ_i) on Γ_N − a(R, λ_i). Without R (the load tested with the
coarse hats only, as f is) the consistency error (ψ, Q v_H) on Γ_N was larger than (f, Q v_H) by
a trace inequality (Q v_H is O(H) in L² of an element but only O(H^½) on its faces): the ψ-only
error stayed near 0.1 for every ℓ (0.107, 0.095, 0.095 smooth; 0.124, 0.113, 0.113 rough, for
ℓ = 1, 2, 3). With R it is below the zero-data error.

Per coefficient and ℓ: the relative energy error ‖A^½∇(u_h − (1 − Q^ℓ)u_H)‖ / ‖A^½∇u_h‖ with
zero data and with each kind of data, and the fine solutions' relative difference
‖A^½∇(u_h(g) − u_h(g̃))‖ / ‖A^½∇u_h(g)‖, and the PG-LOD error with data against u_h(g̃)
(the LOD error of the problem that the lifted method solves; comparable with the zero-data
one). Writes
benchmarks/boundary_data_errors.json and .md::

    python3 benchmarks/boundary_data_errors.py
"""

import json
import pathlib

import numpy as np
from mpi4py import MPI

from lod_fenicsx.discretization import Discretization
from lod_fenicsx.metrics import energy_norm
from lod_fenicsx.pglod import pglod_solve
from lod_fenicsx.reference import fine_solve
from nn_compress.fields import sample

HERE = pathlib.Path(__file__).resolve().parent
N_COARSE, N_SUB, ELLS = 16, 8, (1, 2, 3)
NEUMANN = ("y0", "y1")


def g0(x, y):
    return 1.0 + 0.5 * np.sin(3 * np.pi * y)


def g1(x, y):
    return y**2


def coarse_interpolant(g):
    """g̃: the piecewise linear interpolant of g(x, ·) on the coarse nodes of an x face."""
    nodes = np.arange(N_COARSE + 1) / N_COARSE
    return lambda x, y: np.interp(y, nodes, g(np.zeros_like(nodes) + x.flat[0], nodes))


def main():
    n_fine = N_COARSE * N_SUB
    coefficients = {
        "smooth": sample("smooth", 0, 0, n_fine).coefficient,
        "rough (lognormal, contrast class 1e3)": sample(
            "lognormal-high", 0, 32, n_fine
        ).coefficient,
    }
    g, g_tilde = {"x0": g0, "x1": g1}, {"x0": coarse_interpolant(g0), "x1": coarse_interpolant(g1)}
    psi = {"y1": 0.5}
    # PG-LOD problem -> (its data, the data of the fine solution it is compared with there).
    cases = {
        "zero": ({}, {}),
        "dirichlet": (dict(dirichlet=g), dict(dirichlet=g_tilde)),
        "flux": (dict(flux=psi), dict(flux=psi)),
        "data": (dict(dirichlet=g, flux=psi), dict(dirichlet=g_tilde, flux=psi)),
    }
    disc = Discretization(MPI.COMM_SELF, N_COARSE, N_SUB)
    rows = []
    for name, a in coefficients.items():

        def fine(**kw):
            return fine_solve(disc, a, "one", rtol=1e-12, neumann=NEUMANN, **kw)[1]

        exact = {case: fine(**kw) for case, (kw, _) in cases.items()}
        seen = {case: fine(**kw) for case, (_, kw) in cases.items()}  # with g̃ for g
        u, u_tilde = exact["data"], seen["data"]
        interpolation = energy_norm(u - u_tilde, a) / energy_norm(u, a)
        for ell in ELLS:
            row = dict(coefficient=name, ell=ell, contrast=float(a.max() / a.min()))
            for case, (kw, _) in cases.items():
                with pglod_solve(
                    MPI.COMM_SELF,
                    a,
                    N_COARSE,
                    N_SUB,
                    ell,
                    disc=disc,
                    corrected=True,
                    neumann=NEUMANN,
                    **kw,
                ) as result:
                    u_ms = result.u_corrected
                for key, ref in ((f"energy_{case}", exact[case]), (f"own_{case}", seen[case])):
                    row[key] = energy_norm(ref - u_ms, a) / energy_norm(ref, a)
            row["interpolation_of_g"] = interpolation
            rows.append(row)
            print(json.dumps(row), flush=True)
    (HERE / "boundary_data_errors.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# PG-LOD with non-zero boundary data: relative energy errors against the fine FEM",
        "",
        "Written by `benchmarks/boundary_data_errors.py` (its docstring has the problems). "
        "N_H = 16, n = 8, f = 1, Dirichlet x0 x1, Neumann y0 y1; data: g = 1 + ½ sin 3πy on x0, "
        "y² on x1, ψ = ½ on y1. Lifting by the coarse interpolant g̃ of g, corrected; the "
        "flux ψ with the boundary-load correctors R_T (fine function (1 − Q^ℓ) u_H + R).",
        "",
        "Energy errors against u_h with the same data; in brackets against u_h with g replaced "
        "by g̃ (the problem the lifted method solves: what is left is the LOD error itself).",
        "",
        "| coefficient | contrast | ℓ | zero data | g only | ψ only | g and ψ | "
        "fine: u_h(g, ψ) against u_h(g̃, ψ) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['coefficient']} | {r['contrast']:.3g} | {r['ell']} | {r['energy_zero']:.3e} | "
            + " | ".join(
                f"{r[f'energy_{c}']:.3e} ({r[f'own_{c}']:.3e})"
                for c in ("dirichlet", "flux", "data")
            )
            + f" | {r['interpolation_of_g']:.3e} |"
        )
    (HERE / "boundary_data_errors.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
