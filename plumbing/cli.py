"""One error contract for every command line of the project, serial or under MPI.

* A user error (``ValueError``, ``OSError``: a bad argument, a missing or unwritable file, a full
  disk) ends the program with one line ``<prog>: error: <what is wrong, what to do>`` and exit
  status 2; ``--debug`` (anywhere in the arguments) shows the traceback instead.
* Under MPI, an error that every rank raised alike (:class:`CollectiveError`) is printed once by
  rank 0 and all ranks return 2. Any other exception on any rank ends *all* ranks at once with
  ``MPI_Abort``: a rank that fails alone must never leave the others waiting in a collective.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import traceback

USER_ERRORS = (ValueError, OSError)


class CollectiveError(ValueError):
    """A user error raised on every rank of the communicator alike (agreed by a broadcast)."""


def run(prog: str, main, argv=None, comm=None) -> int:
    """``main(argv)`` under the error contract; returns its exit status (2 for a user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    size = comm.size if comm is not None else 1
    try:
        return main(argv)
    except Exception as e:  # noqa: BLE001  (the contract: every exception ends in one known way)
        collective = isinstance(e, CollectiveError) or size == 1
        if debug or not isinstance(e, USER_ERRORS):
            traceback.print_exc()
        elif not collective or comm is None or comm.rank == 0:
            where = "" if collective else f" on rank {comm.rank} of {size}"
            print(f"{prog}: error{where}: {one_line(e)}", file=sys.stderr, flush=True)
        if not collective:
            comm.Abort(2)  # the other ranks may wait in a collective: end them all now
        return 2


def one_line(error: BaseException) -> str:
    """The message of an exception on one line (OSError: the file and the system's reason; an
    error other than ValueError or OSError, from inside a library, with its type: 'KeyError:
    'done'', 'IndexError: pop from empty list')."""
    text = str(error)
    if isinstance(error, OSError) and error.strerror:
        text = (f"{error.filename}: " if error.filename else "") + error.strerror
    text = " ".join(text.split()) or type(error).__name__
    if not isinstance(error, USER_ERRORS) and text != type(error).__name__:
        text = f"{type(error).__name__}: {text}"
    reason = re.search(r"error message = '([^']*)'", text)  # HDF5's long I/O error: keep the reason
    return f"{text.split(' (', 1)[0]} ({reason.group(1)})" if reason else text


def check_writable(path, what: str = "output", folder: bool = False) -> pathlib.Path:
    """Create the folder of the file ``path`` (or the folder ``path`` itself) and check that a
    file can be written there, before any work starts; a ValueError says where and why not."""
    path = pathlib.Path(path)
    if not folder and path.is_dir():
        raise ValueError(f"the {what} {path} is a folder; name a file in it, or another file")
    folder = path if folder else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ValueError(
            f"cannot write the {what} {path} ({e.strerror or e}); choose a writable place"
        ) from None
    return path


def check_at_least(name: str, value, least) -> None:
    """A numeric option with a lower bound: 0 is a number like any other, never 'the default'."""
    if value is not None and value < least:
        raise ValueError(f"{name} {value}: must be at least {least}")
