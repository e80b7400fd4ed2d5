"""A program under ``plumbing.cli.run`` whose error is met on some ranks only (no tests here).

    mpirun -n 2 python3 tests/mpi_rank_fails.py MODE

MODE ``alone``: rank 1 fails outside any collective phase while rank 0 waits in a barrier
(``MPI_Abort`` must end both); ``phase``: rank 1 fails inside ``plumbing.cli.collective`` and
rank 0 does not (one line naming rank 1, status 2 on both, no abort); ``every``: every rank fails
alike inside the phase (one line from rank 0); ``bug``: rank 1 meets a bug (not a user error)
inside the phase (its traceback, and ``MPI_Abort``).
"""

import sys

from mpi4py import MPI

from plumbing.cli import run


def main(argv) -> int:
    (mode,) = argv
    comm = MPI.COMM_WORLD
    if mode == "alone":
        if comm.rank == 1:
            raise ValueError("the input of rank 1 is unreadable")
        comm.Barrier()  # waits for rank 1 for ever, but for MPI_Abort
        return 0
    from plumbing.cli import collective

    with collective(comm):
        if mode == "every" or comm.rank == 1:
            if mode == "bug":
                raise KeyError("a bug on rank 1")
            raise ValueError(f"the input of rank {comm.rank} is unreadable")
    comm.Barrier()
    return 0


if __name__ == "__main__":
    sys.exit(run("mpi_rank_fails", main, comm=MPI.COMM_WORLD))
