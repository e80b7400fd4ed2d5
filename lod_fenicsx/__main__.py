"""Command line: PG-LOD solve of -div(A ∇u) = f on (0,1)^d, u = 0 on ∂D (paper 000, Sec. 3.3-3.4).

    python3 -m lod_fenicsx solve --coefficient A.npy --n-coarse 32 --n-sub 8 --ell 2 \\
        --rhs one --out result.h5 [--no-fine] [--xdmf DIR] [--backend torch --device cuda]
        [--neumann y0 y1] [--dirichlet x0=1 x1=0] [--flux y0=0.5]

``--neumann`` names faces (x0 x1 y0 y1, z0 z1 in 3-D; x0 is x = 0) with A∇u·ν = ψ instead of
u = g, for PG-LOD and the fine reference alike (``lod_fenicsx.boundary``; petsc backend);
``--dirichlet`` gives constant values g on Dirichlet faces and ``--flux`` constant fluxes ψ on
Neumann faces (default 0; PG-LOD lifts g by its coarse interpolant, ``pglod.pglod_solve``).

The coefficient is a 2-D array ``[iy, ix]`` (quadrilaterals) or a 3-D array ``[iz, iy, ix]``
(hexahedra, x fastest) with N n cells per side; d follows from it. Works under ``mpirun -n N``
(patches and meshes are distributed; rank 0 writes the file).
``--backend torch`` computes the correctors in batches with PyTorch (CPU or GPU) instead of
one PETSc factorisation per patch; both give the same u_H to round-off.

HDF5 output (arrays ``[iy, ix]``, in 3-D ``[iz, iy, ix]``, C order; coarse node = iy * (N+1) +
ix, in 3-D (iz * (N+1) + iy) * (N+1) + ix):

* ``u_coarse`` (N+1,)*d: PG-LOD solution u_H on all coarse nodes.
* ``load`` (N+1,)*d: F_i = (f, λ_i), the exact L² pairing of f with the coarse hat
  functions (tensor Gauss quadrature per cell), 0 at Dirichlet nodes. The fine reference
  ``u_fine`` is loaded with the same pairing against the fine hat functions.
* ``S_A/rows``, ``S_A/cols``, ``S_A/values``: S_A in COO on the structured coarse nodes
  (nodes with an unknown only; Dirichlet rows/columns are absent).
* ``u_fine`` (Nn+1,)*d: fine Q1 reference solution (absent with ``--no-fine``).
* ``errors`` attributes (with the fine reference): ``l2_fine`` = ‖u_h − P u_H‖_L2,
  ``l2_coarse`` = ‖I_H u_h − u_H‖_L2, ``energy`` = ‖A^{1/2}∇(u_h − P u_H)‖,
  ``energy_corrected`` = ‖A^{1/2}∇(u_h − (1 − Q^ℓ) u_H)‖ (the LOD energy error; with ``--flux``
  the boundary-load correctors R are added to (1 − Q^ℓ) u_H, ``pglod_solve``), and each
  ``*_relative`` divided by the same norm of u_h (of I_H u_h for ``l2_coarse``).
* ``timings`` attributes: seconds per phase (wall clock, rank 0).
* root attributes: dim, n_coarse, n_sub, ell, rhs, ranks, backend, neumann (the Neumann faces,
  space-separated; "" when every face is Dirichlet), dirichlet and flux (``face=value ...``).
* ``reaction`` (N+1,)*d, with boundary data: a((1 − Q^ℓ) u_H + R, λ_i) − (f, λ_i) − (ψ, λ_i), at
  the Dirichlet nodes the flux ∫ A∇u·ν λ_i (its sum over the face x1 is minus the outflow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


COEFFICIENT = "coefficient file"
COEFFICIENT_FILE = (
    'a .npy file or an HDF5 file holding the array [iy, ix] (e.g. numpy.save("A.npy", A))'
)


def read_coefficient(path: str, dataset: str | None = None, side: int | None = None) -> np.ndarray:
    """Coefficient array (``[iy, ix]`` or ``[iz, iy, ix]``) from a ``.npy`` file or an HDF5
    dataset (``dataset``; default: ``coefficient``, else the file's one dataset).

    Whatever the file holds, a ValueError on one line that names it: missing, empty, neither
    ``.npy`` nor HDF5, damaged, an array of Python objects (never unpickled), of complex, boolean
    or other non-real values, or not of 2 or 3 axes (``side``, when given, shows the expected
    shape in the message); in HDF5, a group or a link that leads nowhere where the dataset
    should be.
    """
    from plumbing.readers import NPY_MAGIC, check_file, load_npy

    path = check_file(path, COEFFICIENT, COEFFICIENT_FILE)
    if path.stat().st_size == 0:
        raise ValueError(f"coefficient file {path} is empty; save the array [iy, ix] into it")
    with path.open("rb") as fh:
        npy = fh.read(len(NPY_MAGIC)) == NPY_MAGIC
    if npy or path.suffix == ".npy":
        array = load_npy(path, COEFFICIENT, COEFFICIENT_FILE)
    else:
        array = _read_hdf5_coefficient(path, dataset)
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"the coefficient in {path} holds {array.dtype} values; expected real numbers "
            "(floating point or integer)"
        )
    if array.ndim not in (2, 3):
        shapes = (
            f"{(side,) * 2} [iy, ix] or {(side,) * 3} [iz, iy, ix]"
            if side
            else "[iy, ix] or [iz, iy, ix] (2 or 3 axes)"
        )
        raise ValueError(f"the coefficient in {path} has shape {array.shape}, expected {shapes}")
    return array


def _read_hdf5_coefficient(path: Path, dataset: str | None) -> np.ndarray:
    import h5py

    from plumbing.readers import hdf5_dataset, open_hdf5, reading

    with reading(path, COEFFICIENT, COEFFICIENT_FILE):
        hdf5 = h5py.is_hdf5(path)
    if not hdf5:
        raise ValueError(
            f"coefficient file {path} is neither a .npy file nor HDF5; save the array [iy, ix] "
            'with numpy.save("A.npy", A)'
        )
    with open_hdf5(path, COEFFICIENT, COEFFICIENT_FILE) as f:
        with reading(path, COEFFICIENT, COEFFICIENT_FILE):
            names = [k for k in f if _is_dataset(f, k)]
        name = dataset or ("coefficient" if "coefficient" in f else None)
        if name is None and len(names) == 1:
            name = names[0]
        if name is None:
            raise ValueError(
                f"{path}: say which dataset holds the coefficient (--dataset); found {names}"
            )
        data = hdf5_dataset(f, name, COEFFICIENT, kinds="")
        with reading(path, COEFFICIENT, COEFFICIENT_FILE):
            return np.asarray(data[()])


def _is_dataset(f, name: str) -> bool:
    """Whether ``f[name]`` is a dataset (False for a link that leads nowhere)."""
    import h5py

    try:
        return f.get(name, getclass=True) is h5py.Dataset
    except Exception:  # noqa: BLE001  (a link loop or a lost external file: not a candidate)
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m lod_fenicsx", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    solve = sub.add_parser("solve", help="PG-LOD solve (and fine reference) for one coefficient")
    solve.add_argument(
        "--coefficient",
        required=True,
        help=".npy or HDF5 file, array [iy, ix] (2-D) or [iz, iy, ix] (3-D) on the fine cells",
    )
    solve.add_argument("--dataset", default=None, help="HDF5 dataset name (default: 'coefficient')")
    solve.add_argument("--n-coarse", type=int, default=32, help="coarse elements per side N_H")
    solve.add_argument(
        "--n-sub", type=int, default=8, help="fine cells per coarse element per side"
    )
    solve.add_argument("--ell", type=int, default=2, help="patch layers ℓ")
    solve.add_argument(
        "--rhs", default="one", help="right-hand side: one, sine, x, x1_right_half, cos2pi_x1"
    )
    solve.add_argument("--out", required=True, help="output HDF5 file")
    solve.add_argument("--no-fine", action="store_true", help="skip the fine reference solve")
    solve.add_argument(
        "--xdmf", default=None, help="also write u_H (and u_h) as XDMF into this folder"
    )
    solve.add_argument(
        "--backend",
        choices=("petsc", "condensed", "torch"),
        default="petsc",
        help="corrector backend (default: petsc; condensed: 2-D, faster on the CPU)",
    )
    solve.add_argument(
        "--device",
        default="auto",
        help="torch backend: auto (CUDA when available), cpu or cuda (default: auto)",
    )
    solve.add_argument(
        "--neumann",
        nargs="+",
        default=None,
        metavar="FACE",
        help="faces with a zero-flux (Neumann) condition, e.g. y0 y1 (x0 is x = 0); the "
        "others keep u = 0 (default: all faces Dirichlet)",
    )
    for name, what in (
        ("--dirichlet", "u on Dirichlet faces"),
        ("--flux", "A∇u·ν on Neumann faces"),
    ):
        solve.add_argument(
            name,
            nargs="+",
            default=None,
            metavar="FACE=VALUE",
            help=f"constant {what}, e.g. x0=1 (default 0)",
        )
    return parser


def face_values(option: str, items: list[str] | None) -> dict | None:
    """``["x0=1", "x1=0.5"]`` -> ``{"x0": 1.0, "x1": 0.5}``; a ValueError naming ``option``."""
    if items is None:
        return None
    values = {}
    for item in items:
        face, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{option}: {item!r} is not FACE=NUMBER, e.g. x0=1") from None
        if face in values:
            raise ValueError(f"{option}: face {face!r} is given twice")
        values[face] = number
    return values


def solve(args) -> int:
    from mpi4py import MPI

    from lod_fenicsx import metrics
    from lod_fenicsx.assembly import to_structured_coo
    from lod_fenicsx.boundary import check_data, neumann_faces, neumann_mask
    from plumbing.cli import CollectiveError, check_utf8, check_writable, collective
    from lod_fenicsx.coefficient import validate_coefficient
    from lod_fenicsx.corrector import PatchSolver
    from lod_fenicsx.discretization import Discretization
    from lod_fenicsx.loads import rhs_function
    from lod_fenicsx.pglod import pglod_solve
    from lod_fenicsx.reference import check_fine_memory, fine_solve
    from plumbing.timing import phase

    comm = MPI.COMM_WORLD
    for name, value, least, why in (
        ("--n-coarse", args.n_coarse, 2, "N_H = 1 has no interior coarse node"),
        ("--n-sub", args.n_sub, 1, "n fine cells per coarse cell"),
        ("--ell", args.ell, 0, "the oversampling layers"),
    ):
        if value < least:
            raise CollectiveError(f"{name} {value}: must be at least {least} ({why})")
    with collective(comm):  # every rank reads the same file: one line from rank 0
        raw = read_coefficient(args.coefficient, args.dataset, args.n_coarse * args.n_sub)
        dim = np.ndim(raw)
        coefficient = validate_coefficient(
            raw, args.n_coarse, args.n_sub, f"the coefficient in {args.coefficient}", dim
        )
        neumann = neumann_mask(args.neumann, dim)
        dirichlet = face_values("--dirichlet", args.dirichlet)
        flux = face_values("--flux", args.flux)
        check_data(neumann, dirichlet, flux)
        rhs_function(args.rhs)
        if not args.no_fine:
            check_fine_memory(args.n_coarse * args.n_sub, dim, comm.size)
        if args.backend == "torch":
            from lod_fenicsx.corrector_torch import resolve_device

            resolve_device(args.device)
        if args.xdmf:
            check_utf8(args.xdmf, "--xdmf folder", "DOLFINx's XDMF writer")
    options = {}
    if args.backend == "torch":
        import torch

        if comm.size > 1:
            torch.set_num_threads(1)  # one core per rank
        options["device"] = args.device
    # The set-up's refusals (a backend of the other dimension, Neumann faces the backend cannot
    # take, memory, a singular patch) are the same on every rank, and come before any output.
    with collective(comm):
        ps = PatchSolver(
            args.n_coarse,
            args.n_sub,
            args.ell,
            backend=args.backend,
            dim=dim,
            neumann=neumann,
            **options,
        )
    error = None
    if comm.rank == 0:
        try:
            check_writable(args.out, "output file")
            if args.xdmf:
                check_writable(args.xdmf, "--xdmf folder", folder=True)
        except ValueError as e:
            error = str(e)
    if comm.bcast(error, root=0):
        ps.close()
        raise CollectiveError(error)
    if args.ell > args.n_coarse - 1 and comm.rank == 0:
        print(
            f"note: ell = {args.ell} >= N_H - 1 = {args.n_coarse - 1}: every patch is the whole "
            f"domain (the same result as ell = {args.n_coarse - 1})",
            flush=True,
        )
    timings = {}
    with phase(timings, "meshes"):
        disc = Discretization(comm, args.n_coarse, args.n_sub, fine=not args.no_fine, dim=dim)
    with ps:
        result = pglod_solve(
            comm,
            coefficient,
            args.n_coarse,
            args.n_sub,
            args.ell,
            args.rhs,
            disc=disc,
            corrected=not args.no_fine,
            patch_solver=ps,
            neumann=neumann,
            dirichlet=dirichlet,
            flux=flux,
        )
    timings.update({k: v for k, v in result.timings.items() if k != "meshes"})
    layout = disc.coarse_layout
    rows, cols, vals = to_structured_coo(result.matrix, layout, root=0)
    lo, hi = result.load.getOwnershipRange()
    load = layout.to_structured(comm, result.load.getArray()[: hi - lo])
    u_fine, errors = None, {}
    if not args.no_fine:
        with phase(timings, "fine_solve"):
            u_fine_func, u_fine = fine_solve(
                disc, coefficient, args.rhs, neumann=neumann, dirichlet=dirichlet, flux=flux
            )
            comm.Barrier()
        if comm.rank == 0:
            u_h = result.u_coarse
            i_h_fine = metrics.interpolated_l2_error(u_fine, np.zeros_like(u_h), neumann)
            errors = {
                "l2_fine": metrics.fine_l2_error(u_fine, u_h),
                "l2_coarse": metrics.interpolated_l2_error(u_fine, u_h, neumann),
                "energy": metrics.energy_error(u_fine, u_h, coefficient),
                "energy_corrected": metrics.energy_norm(u_fine - result.u_corrected, coefficient),
            }
            errors["l2_fine_relative"] = errors["l2_fine"] / metrics.l2_norm(u_fine)
            errors["l2_coarse_relative"] = errors["l2_coarse"] / i_h_fine
            energy_fine = metrics.energy_norm(u_fine, coefficient)
            errors["energy_relative"] = errors["energy"] / energy_fine
            errors["energy_corrected_relative"] = errors["energy_corrected"] / energy_fine
    if args.xdmf:
        _write_xdmf(Path(args.xdmf), disc, result, None if args.no_fine else u_fine_func)
    if comm.rank == 0:
        import h5py

        boundary = layout.dirichlet_nodes(neumann)
        interior = ~np.isin(rows, boundary) & ~np.isin(cols, boundary)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(args.out, "w") as f:
            f.attrs.update(
                dim=dim,
                n_coarse=args.n_coarse,
                n_sub=args.n_sub,
                ell=args.ell,
                rhs=str(args.rhs),
                ranks=comm.size,
                backend=args.backend,
                neumann=" ".join(neumann_faces(neumann)),
                dirichlet=" ".join(f"{k}={v:g}" for k, v in (dirichlet or {}).items()),
                flux=" ".join(f"{k}={v:g}" for k, v in (flux or {}).items()),
            )
            if result.reaction is not None:
                f["reaction"] = result.reaction
            f["u_coarse"] = result.u_coarse
            f["load"] = load
            g = f.create_group("S_A")
            g.attrs["shape"] = ((args.n_coarse + 1) ** dim,) * 2
            g["rows"], g["cols"], g["values"] = rows[interior], cols[interior], vals[interior]
            if u_fine is not None:
                f["u_fine"] = u_fine
            f.create_group("errors").attrs.update(errors)
            f.create_group("timings").attrs.update(timings)
            f.create_group("patch_timings").attrs.update(result.patch_timings)
        summary = ", ".join(f"{k} {v:.3e}" for k, v in errors.items())
        print(f"wrote {args.out}: u_H on {args.n_coarse + 1}^{dim} nodes; {summary}")
        print("timings [s]: " + ", ".join(f"{k} {v:.3f}" for k, v in timings.items()))
    return 0


def _write_xdmf(folder: Path, disc, result, u_fine_func):
    from dolfinx import fem
    from dolfinx.io import XDMFFile

    folder.mkdir(parents=True, exist_ok=True)
    u_coarse = fem.Function(disc.coarse_space, name="u_coarse")
    lo, hi = result.solution.getOwnershipRange()
    u_coarse.x.array[: hi - lo] = result.solution.getArray()
    u_coarse.x.scatter_forward()
    with XDMFFile(disc.comm, str(folder / "u_coarse.xdmf"), "w") as f:
        f.write_mesh(disc.coarse_mesh)
        f.write_function(u_coarse)
    if u_fine_func is not None:
        with XDMFFile(disc.comm, str(folder / "u_fine.xdmf"), "w") as f:
            f.write_mesh(disc.fine_mesh)
            f.write_function(u_fine_func)


def main(argv=None) -> int:
    from mpi4py import MPI

    from plumbing.cli import run

    return run(
        "python3 -m lod_fenicsx",
        lambda a: solve(_parser().parse_args(a)),
        argv,
        comm=MPI.COMM_WORLD,
    )


if __name__ == "__main__":
    sys.exit(main())
