"""One error contract for every command line of the project, serial or under MPI.

* A user error (``ValueError``, ``OSError``: a bad argument, a missing or unwritable file, a full
  disk) ends the program with one line ``<prog>: error: <what is wrong, what to do>`` and exit
  status 2; ``--debug`` (anywhere in the arguments) shows the traceback instead.
* Under MPI, an error that every rank raised alike (:class:`CollectiveError`) is printed once by
  rank 0 and all ranks return 2. Any other exception on any rank ends *all* ranks at once with
  ``MPI_Abort``: a rank that fails alone must never leave the others waiting in a collective.
* What every rank does alike before the work (check the arguments, read the input files) runs
  in a :func:`collective` phase: its user errors become a ``CollectiveError`` on every rank (one
  line, from rank 0, no ``MPI_Abort``), also when only some ranks failed (the line names them).
  argparse's usage and errors, the same on every rank, are printed by rank 0 only.
* A program that runs in one process (``serial=True``) refuses, in one line, to start on more
  than one rank of an MPI launcher: every rank would do the whole work into the same files.
* Arguments that are not UTF-8 (a file name with a byte such as 0xff: Python holds it as a
  lone surrogate) reach ``main`` as they are, so that the file is found; ``sys.argv``, which
  DOLFINx hands to C++ when it is imported, shows those bytes as U+FFFD instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import sys
import traceback

USER_ERRORS = (ValueError, OSError)
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class CollectiveError(ValueError):
    """A user error raised on every rank of the communicator alike (agreed by a collective call).

    ``ranks``: where it happened when not on every rank (its line then says 'on rank r of n');
    ``None`` when every rank met it."""

    def __init__(self, message: str = "", ranks=None):
        super().__init__(message)
        self.ranks = None if ranks is None else tuple(ranks)


def run(prog: str, main, argv=None, comm=None, serial: bool = False) -> int:
    """``main(argv)`` under the error contract; returns its exit status (2 for a user error).

    ``comm``: the program's communicator (``None``: one process). ``serial``: the program runs
    in one process; under an MPI launcher (``comm`` then defaults to its ``COMM_WORLD``) with more
    than one rank it refuses in one line instead of running on every rank."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(utf8_text(a) != a for a in sys.argv):
        sys.argv = [utf8_text(a) for a in sys.argv]  # for DOLFINx; main has the originals
    for stream in (sys.stdout, sys.stderr):  # 'wrote <file>': its bytes, as ls shows them
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    if serial and comm is None:
        comm = launched_comm()
    size = comm.size if comm is not None else 1
    try:
        if serial and size > 1:
            raise CollectiveError(
                f"{prog} runs in one process, not on {size} MPI ranks (each would do the whole "
                "work into the same files): start it without mpirun"
            )
        with _argparse_on_rank_zero(comm):
            return main(argv)
    except Exception as e:  # noqa: BLE001  (the contract: every exception ends in one known way)
        collective = isinstance(e, CollectiveError) or size == 1
        if debug or not isinstance(e, USER_ERRORS):
            traceback.print_exc()
        elif not collective or comm is None or comm.rank == 0:
            ranks = (comm.rank,) if not collective else getattr(e, "ranks", None)
            where = ""
            if ranks and size > 1:
                where = f" on rank{'s' * (len(ranks) > 1)} {', '.join(map(str, ranks))} of {size}"
            print(f"{prog}: error{where}: {one_line(e)}", file=sys.stderr, flush=True)
        if not collective:
            comm.Abort(2)  # the other ranks may wait in a collective: end them all now
        return 2


@contextlib.contextmanager
def collective(comm):
    """A phase that every rank of ``comm`` runs alike: checking arguments, reading input files.

    At its end the ranks agree (one ``allgather``) whether any of them met a user error
    (``ValueError``, ``OSError``); if so, every rank raises a :class:`CollectiveError`: rank 0's
    message when every rank failed, else the first failing rank's, naming the failing ranks. So
    a bad file that every rank reads is reported once, by rank 0, and all ranks end with status
    2, without ``MPI_Abort``; a file that only some ranks cannot read ends all of them too.

    The phase must not communicate (a rank that failed early would not be there). Any other
    exception is a bug: it keeps its traceback and, through :func:`run`, ``MPI_Abort``; the ranks
    without it raise a ``CollectiveError`` naming the rank. Serially (``comm`` ``None`` or of
    size 1) the phase changes nothing."""
    if comm is None or comm.size == 1:
        yield
        return
    error = None
    try:
        yield
    except Exception as e:  # noqa: BLE001  (agreed below, then raised again on every rank)
        error = e
    mine = None if error is None else (one_line(error), isinstance(error, USER_ERRORS))
    failed = [(rank, item) for rank, item in enumerate(comm.allgather(mine)) if item is not None]
    if not failed:
        return
    if error is not None and not isinstance(error, USER_ERRORS):
        raise error
    ranks = [rank for rank, _ in failed]
    if len(ranks) == comm.size:
        raise CollectiveError(failed[0][1][0]) from error
    raise CollectiveError(failed[0][1][0], ranks=ranks) from error


def launched_comm():
    """``MPI.COMM_WORLD`` when an MPI launcher (mpirun, srun) started this process, else ``None``;
    without a launcher MPI is not initialised (nor mpi4py imported)."""
    if not any(v in os.environ for v in LAUNCHER_VARIABLES):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


@contextlib.contextmanager
def _argparse_on_rank_zero(comm):
    """argparse's messages (usage, errors, ``--help``) only on rank 0: every rank parses the same
    arguments and would print the same lines."""
    if comm is None or comm.size == 1 or comm.rank == 0:
        yield
        return
    printer = argparse.ArgumentParser._print_message
    argparse.ArgumentParser._print_message = lambda self, message, file=None: None
    try:
        yield
    finally:
        argparse.ArgumentParser._print_message = printer


def utf8_text(text: str) -> str:
    """``text`` as UTF-8 can hold it: the bytes of a non-UTF-8 argument or file name (which
    Python keeps as lone surrogates, ``os.fsdecode``) as U+FFFD. For messages and C++ libraries
    that take only UTF-8 (DOLFINx's ``init_logging(sys.argv)``); never to open the file."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "replace")
    return text


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


def check_utf8(path, what: str, library: str) -> None:
    """Refuse in one line a file name that is not UTF-8 where ``library`` (C++ code that takes
    only UTF-8 names, such as DOLFINx's XDMF writer) would fail on it after the work."""
    text = os.fspath(path)
    if utf8_text(text) != text:
        raise ValueError(
            f"the {what} {utf8_text(text)!r} is not UTF-8, which {library} needs; choose a name "
            "in UTF-8"
        )


def check_at_least(name: str, value, least) -> None:
    """A numeric option with a lower bound: 0 is a number like any other, never 'the default'."""
    if value is not None and value < least:
        raise ValueError(f"{name} {value}: must be at least {least}")
