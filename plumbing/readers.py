"""One reader per kind of file: whatever the bytes, one ValueError on one line that names the file
and what was expected, never a traceback from inside h5py, NumPy, json or torch, and never code
run from a file (``np.load`` without pickles; torch's readers are ``plumbing.checkpoint``'s).

Every message names the file; most have one of two forms:

* ``<what> <path> does not exist | is a folder | is a link that leads nowhere | is not a regular
  file; expected <expected>`` (``check_file``, before any byte is read);
* ``<path> is not a readable <what> (<reason>); expected <expected>``, the reason being the
  library's own words on one line (``reading`` turns any exception into this);

and ``open_hdf5`` says ``<path> is not an HDF5 file`` or ``<path> is locked by another process``.

``what`` is a noun (``"dataset"``, ``"coefficient file"``, ``"results table"``); ``expected``
says what the file should be and, where it helps, how to make one.
"""

from __future__ import annotations

import contextlib
import json
import pathlib

from plumbing.cli import one_line

NPY_MAGIC = b"\x93NUMPY"
REQUIRED = object()  # ``absent`` of a file that must exist
REASON_CHARACTERS = 200  # of a library's message in ours


def check_file(path, what: str, expected: str, missing: str = "") -> pathlib.Path:
    """``path`` as a ``pathlib.Path`` when it is a regular file, else a one-line ValueError.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to be read.
    what : str
        What the caller calls it (``"dataset"``); the messages begin with it.
    expected : str
        What the file should be (``"an HDF5 file written by demos/generate.py"``).
    missing : str
        What to do when it does not exist (``"make it with demos/generate.py"``).

    Raises
    ------
    ValueError
        When ``path`` does not exist, is a link that leads nowhere (a loop, a lost target), a
        folder, or not a regular file (a pipe or a device: reading would wait for ever).

    Examples
    --------
    >>> check_file("/", "dataset", "an HDF5 file")
    Traceback (most recent call last):
    ...
    ValueError: dataset / is a folder; expected an HDF5 file
    """
    path = pathlib.Path(path)
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{what} {path} is a link that leads nowhere (a loop, or a lost target)")
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; expected {expected}")
    if not path.exists():
        raise ValueError(f"{what} {path} does not exist" + (f" ({missing})" if missing else ""))
    if not path.is_file():
        raise ValueError(f"{what} {path} is not a regular file; expected {expected}")
    return path


def refusal(path, what: str, reason: str, expected: str = "") -> ValueError:
    """The ValueError ``<path> is not a readable <what> (<reason>); expected <expected>``."""
    reason = " ".join(str(reason).split())[:REASON_CHARACTERS]
    tail = f"; expected {expected}" if expected else ""
    return ValueError(f"{path} is not a readable {what} ({reason}){tail}")


@contextlib.contextmanager
def reading(path, what: str, expected: str = ""):
    """A block that reads ``path``: whatever it raises becomes one ``refusal`` naming the file.

    A ValueError that already names ``path`` on one line passes unchanged; any other exception
    (``UnicodeDecodeError``, ``KeyError``, ``OSError``, h5py's errors, a ``RecursionError`` of a
    nesting too deep, a ``MemoryError`` of a size read from the file) becomes
    ``ValueError("<path> is not a readable <what> (<its message>); expected <expected>")``.

    Examples
    --------
    >>> with reading("table.json", "results table"):
    ...     {}["rows"]
    Traceback (most recent call last):
    ...
    ValueError: table.json is not a readable results table (KeyError: 'rows')
    """
    try:
        yield
    except Exception as e:  # noqa: BLE001  (whatever the bytes: one line naming the file)
        message = str(e)
        if isinstance(e, ValueError) and str(path) in message and "\n" not in message:
            raise
        raise refusal(path, what, one_line(e), expected) from None


def read_text(path, what: str, expected: str = "a UTF-8 text file", missing: str = "") -> str:
    """The text of a UTF-8 file (another encoding, a binary file: the one-line ValueError)."""
    path = check_file(path, what, expected, missing)
    with reading(path, what, expected):
        return path.read_bytes().decode("utf-8")


def read_json(
    path,
    what: str,
    expected: str = "a JSON file",
    missing: str = "",
    top: type = dict,
    absent=REQUIRED,
):
    """The value of a UTF-8 JSON file, of type ``top`` (default: an object, ``dict``); with
    ``absent``, that value when the file does not exist (a link that leads nowhere is refused:
    it is not "no file").

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "card.json"
    ...     _ = path.write_bytes('{"name": "é"}'.encode("latin-1"))
    ...     read_json(path, "card")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: .../card.json is not a readable card ('utf-8' codec can't decode byte 0xe9 ...
    """
    if absent is not REQUIRED and not _there(path):
        return absent
    text = read_text(path, what, expected, missing)
    with reading(path, what, expected):
        value = json.loads(text)
    if not isinstance(value, top):
        raise refusal(path, what, f"a JSON {_json_type(value)}, not {_json_type(top())}", expected)
    return value


def read_jsonl(
    path, what: str, expected: str = "a JSON Lines file", missing: str = "", absent=REQUIRED
) -> list:
    """The objects of a UTF-8 JSON Lines file, one per non-blank line; the message of a bad line
    gives its number. ``absent`` as for ``read_json``."""
    if absent is not REQUIRED and not _there(path):
        return absent
    text = read_text(path, what, expected, missing)
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except Exception as e:  # noqa: BLE001  (whatever the line: one line naming the file)
            raise refusal(path, what, f"line {number}: {one_line(e)}", expected) from None
        if not isinstance(record, dict):
            raise refusal(path, what, f"line {number}: a JSON {_json_type(record)}", expected)
        records.append(record)
    return records


def _there(path) -> bool:
    path = pathlib.Path(path)
    return path.exists() or path.is_symlink()


def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def load_npy(path, what: str, expected: str = "a .npy file written by numpy.save"):
    """The array of a ``.npy`` file, read without pickles (an array of Python objects is refused
    without running any of its code) and checked against the file's length before it is
    allocated (a truncated file, or a header that claims terabytes)."""
    import numpy as np

    path = check_file(path, what, expected)
    with reading(path, what, expected):
        with path.open("rb") as fh:
            if fh.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise ValueError("no .npy header")
            fh.seek(0)
            version = np.lib.format.read_magic(fh)
            header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)  # (3, 0), UTF-8 field names: np.load below refuses objects alike
            if header is not None and header(fh)[2].hasobject:
                raise refusal(
                    path,
                    what,
                    "an array of Python objects, a pickle: never loaded, it could run code",
                    expected,
                )
        # Memory-mapped first: the header's shape must fit the file before anything is read.
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if not isinstance(mapped, np.ndarray):  # an .npz archive
            raise ValueError(f"a {type(mapped).__name__}, not one array")
        array = np.array(mapped)
        del mapped
        return array


def open_hdf5(
    path,
    what: str,
    expected: str = "an HDF5 file",
    mode: str = "r",
    locking=None,
    missing: str = "",
    locked: str = "wait until it ends",
):
    """An HDF5 file opened with h5py (``mode``, ``locking``), else the one-line ValueError.

    ``locked`` is what to do when another process holds the file (HDF5's file lock).
    """
    import h5py

    path = check_file(path, what, expected, missing)
    with reading(path, what, expected):
        hdf5 = h5py.is_hdf5(path)
    if not hdf5:
        raise ValueError(f"{path} is not an HDF5 file, so not a {what}; expected {expected}")
    try:
        return h5py.File(path, mode, locking=locking)
    except Exception as e:  # noqa: BLE001  (h5py's messages name no file)
        if "unable to lock file" in str(e).lower():  # HDF5's own words (not "sblock")
            raise ValueError(f"{path} is locked by another process, {locked}") from None
        raise refusal(path, what, one_line(e), expected) from None


def hdf5_dataset(f, name: str, what: str, shape=None, kinds: str = "iuf"):
    """The dataset ``name`` of the open HDF5 file ``f``, else the one-line ValueError naming the
    file: missing, a group (or another object) instead of a dataset, a link that leads nowhere,
    of another ``shape`` (a tuple, when given) or of a dtype whose kind is not in ``kinds``
    (NumPy's kind letters: ``"iuf"`` integers and floats; ``""``: any)."""
    import h5py

    path = f.filename
    with reading(path, what):
        link = f.get(name, getlink=True)
        obj = None if link is None else f.get(name)
    if link is None:
        raise refusal(path, what, f"no dataset {name!r}")
    if obj is None:
        raise refusal(path, what, f"{name!r} is a link that leads nowhere")
    if not isinstance(obj, h5py.Dataset):
        kind = "group" if isinstance(obj, h5py.Group) else type(obj).__name__
        raise refusal(path, what, f"{name!r} is a {kind}, not a dataset")
    if shape is not None and obj.shape != tuple(shape):
        raise refusal(path, what, f"{name!r} has shape {obj.shape}, expected {tuple(shape)}")
    if kinds and obj.dtype.kind not in kinds:
        raise refusal(path, what, f"{name!r} holds {obj.dtype}, not numbers")
    return obj
