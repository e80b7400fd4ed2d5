"""Generate PG-LOD training data for the compression network (papers 000 Sec. 4.2, 004 Secs. 5-6).

For every sample of every coefficient family of the chosen preset, this computes the padded
local PG-LOD matrices S_{A,T}, eq. (3.9), of all coarse elements T and writes them, with the
global network-input field, into ONE HDF5 file (layout: ``nn_compress/dataset.py``)::

    mpirun -n 16 python3 demos/generate.py --preset paper000 --output /scratch/paper000.h5

or on one GPU, in one process, without DOLFINx, PETSc or mpirun (same file, same format)::

    python3 demos/generate.py --preset paper000 --backend torch --device cuda

Samples are dealt out cyclically over the MPI ranks; each depends only on (family, index,
base seed), so the file does not depend on the number of ranks. The run is resumable: after a
kill, the same command computes only the samples not marked done. A file made with another
configuration is refused. Presets (samples per family in the table of
``nn_compress.dataset.presets``): small (default), paper000, paper000-reduced,
paper004-<low|moderate|high>-<small|large|reduced>, paper004-hierarchical-<c>[-reduced], and in
three dimensions (hexahedral patches, fields [iz, iy, ix], PETSc backend only) lod3d,
lod3d-lognormal-low and lod3d-tiny::

    mpirun -n 2 python3 demos/generate.py --preset lod3d
"""

import argparse
import dataclasses
import json
import sys

from plumbing.cli import CollectiveError, collective, run
from nn_compress.dataset import generate, presets, world_comm
from nn_compress.pipeline import dataset_path


def main(argv=None) -> int:
    table = presets()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(
            f"  {name:36s} N_H={c.n_coarse} n={c.n_sub} ell={c.ell} d={c.dim} samples={c.n_samples}"
            for name, c in table.items()
        ),
    )
    parser.add_argument(
        "--preset", default="small", choices=sorted(table), help="dataset preset (default: small)"
    )
    parser.add_argument(
        "--out", "--output", dest="output", help="HDF5 file (default: $NH_STATE/data/<preset>.h5)"
    )
    parser.add_argument(
        "--samples-per-family", type=int, help="override every family's sample count"
    )
    parser.add_argument("--base-seed", type=int, help="override the base seed")
    parser.add_argument(
        "--reuse",
        nargs="+",
        default=[],
        metavar="FILE",
        help="dataset files of the same discretization and seed whose finished samples are "
        "copied instead of computed (e.g. paper004-<c>-small from paper004-<c>-large: its first "
        "300 samples)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none in a pipe either)"
    )
    parser.add_argument(
        "--backend",
        choices=("petsc", "condensed", "torch"),
        default="petsc",
        help="corrector backend: petsc (default; CPU, one patch at a time), condensed (CPU, "
        "2-D: each coarse element's interior eliminated once for all patches, then one patch "
        "skeleton at a time; faster) or torch (batches of patches, CPU or GPU, no "
        "DOLFINx/PETSc needed)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="torch backend: auto (CUDA when available), cpu or cuda (default: auto)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help="torch backend: patches per batch (default 32 on the CPU, 2048 on a GPU)",
    )
    args = parser.parse_args(argv)

    for name, value, least in (
        ("--batch-size", args.batch_size, 1),
        ("--samples-per-family", args.samples_per_family, 1),
        ("--base-seed", args.base_seed, 0),
    ):
        if value is not None and value < least:
            parser.error(f"{name} {value}: must be at least {least}")
    comm = world_comm()
    options = {}
    if args.backend == "torch":
        import torch

        from lod_fenicsx.corrector_torch import resolve_device

        with collective(comm):  # every rank sees the same name: one line from rank 0
            resolve_device(args.device)
        if comm.size > 1:
            torch.set_num_threads(1)  # one core per rank
        options = {"device": args.device, "batch_size": args.batch_size}
    config = table[args.preset]
    if args.backend != "petsc" and config.dim != 2:  # alike on every rank
        raise CollectiveError(
            f"preset {args.preset} is {config.dim}-D and the {args.backend} backend 2-D only; "
            "use --backend petsc"
        )
    if args.samples_per_family is not None:
        config = dataclasses.replace(
            config, families={k: args.samples_per_family for k in config.families}
        )
    if args.base_seed is not None:
        config = dataclasses.replace(config, base_seed=args.base_seed)
    output = args.output or dataset_path(args.preset)
    if comm.rank == 0:
        print(
            f"generate: preset {args.preset} -> {output} on {comm.size} rank(s), "
            f"{args.backend} backend\n  {config.to_json()}",
            flush=True,
        )
    summary = generate(
        comm,
        config,
        output,
        preset=args.preset,
        progress=not args.no_progress and sys.stderr.isatty(),
        backend=args.backend,
        backend_options=options,
        reuse=args.reuse,
    )
    if comm.rank == 0:
        n = summary["computed"]
        if summary["reused"]:
            print(f"generate: {summary['reused']} sample(s) copied from {args.reuse}", flush=True)
        if n == 0:
            print(
                f"generate: nothing to do, all {config.n_samples} samples of {output} are done",
                flush=True,
            )
            return 0
        summary["seconds_per_sample_per_rank"] = per = summary["seconds"] * comm.size / n
        print(
            f"generate: done, {n} sample(s) computed in {summary['seconds']:.1f} s "
            f"({per:.3f} s per sample per rank)\n  {json.dumps(summary)}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(run("generate", main, comm=world_comm()))
