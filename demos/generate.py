"""Generate PG-LOD training data for the compression network (papers 000 Sec. 4.2, 004 Secs. 5-6).

For every sample of every coefficient family of the chosen preset, this computes the padded
local PG-LOD matrices S_{A,T}, eq. (3.9), of all coarse elements T and writes them, with the
global network-input field, into ONE HDF5 file (layout: ``nn_compress/dataset.py``)::

    mpirun -n 16 python3 demos/generate.py --preset paper000 --output data/paper000.h5

Samples are dealt out cyclically over the MPI ranks; each depends only on (family, index,
base seed), so the file does not depend on the number of ranks. The run is resumable: after a
kill, the same command computes only the samples not marked done. A file made with another
configuration is refused. Presets (samples per family in the table of
``nn_compress.dataset.presets``): small (default), paper000, paper000-reduced,
paper004-<low|moderate|high>-<small|large|reduced>, paper004-hierarchical-<c>[-reduced].
"""

import argparse
import dataclasses
import json
import sys

from mpi4py import MPI

from nn_compress.dataset import generate, presets


def main(argv=None) -> int:
    table = presets()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(
            f"  {name:36s} N_H={c.n_coarse} n={c.n_sub} ell={c.ell} samples={c.n_samples}"
            for name, c in table.items()
        ),
    )
    parser.add_argument("--preset", default="small", choices=sorted(table), help="dataset preset (default: small)")
    parser.add_argument("--output", help="HDF5 file (default: data/<preset>.h5)")
    parser.add_argument("--samples-per-family", type=int, help="override every family's sample count")
    parser.add_argument("--base-seed", type=int, help="override the base seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    comm = MPI.COMM_WORLD
    config = table[args.preset]
    if args.samples_per_family is not None:
        if args.samples_per_family < 1:
            parser.error("--samples-per-family must be at least 1")
        config = dataclasses.replace(config, families={k: args.samples_per_family for k in config.families})
    if args.base_seed is not None:
        config = dataclasses.replace(config, base_seed=args.base_seed)
    output = args.output or f"data/{args.preset}.h5"
    if comm.rank == 0:
        print(f"generate: preset {args.preset} -> {output} on {comm.size} rank(s)\n  {config.to_json()}", flush=True)
    try:
        summary = generate(comm, config, output, preset=args.preset, progress=not args.no_progress)
    except ValueError as e:
        if comm.rank == 0:
            print(f"generate: error: {e}", file=sys.stderr, flush=True)
        return 2
    if comm.rank == 0:
        n = summary["computed"]
        per = summary["seconds"] * comm.size / n if n else float("nan")
        summary["seconds_per_sample_per_rank"] = per
        print(f"generate: done, {n} sample(s) computed in {summary['seconds']:.1f} s "
              f"({per:.3f} s per sample per rank)\n  {json.dumps(summary)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
