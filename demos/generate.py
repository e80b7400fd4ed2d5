"""Generate PG-LOD training data for the compression network (placeholder).

Run as ``mpirun -n N python3 demos/generate.py``. The dataset generator itself arrives with the
LOD and compression work; this script checks that the MPI environment is usable.
"""

import argparse

from mpi4py import MPI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    comm = MPI.COMM_WORLD
    import dolfinx

    if comm.rank == 0:
        print(f"demos/generate.py: DOLFINx {dolfinx.__version__} on {comm.size} MPI rank(s)")


if __name__ == "__main__":
    main()
