"""The checkpoint contract of the project's torch trainers (NN-LOD and the hybrid PINN).

* ``state_root`` / ``state_path``: where long runs keep their datasets, checkpoints and logs, one
  folder outside the work tree (``$NH_STATE``, default ``/var/cache/numhom-state``), so that a run
  survives a new checkout and resumes from there;
* ``save_atomic``: a checkpoint appears whole or not at all (written beside, then renamed; a
  failed write leaves the previous file and no temporary one; the temporary file is the
  process's own, so two processes saving the same file never write into one);
* ``exclusive_folder``: a run holds its checkpoint folder for as long as it runs; a second run on
  the same folder is refused in one line naming the folder and the holder's PID;
* ``load_checkpoint``: ``torch.load`` with ``weights_only=True``: tensors, numbers, strings,
  lists, tuples and dicts only, so that a checkpoint can never run code;
* ``rng_state`` / ``set_rng_state``: every random generator a run may draw from (torch, CUDA,
  NumPy, Python), stored as plain types, so that a resumed run reproduces the uninterrupted one;
* ``NonFiniteLossError``: the one error of a loss that became NaN or infinite (a user error in the
  sense of ``plumbing.cli``: one line, exit status 2).

Each trainer stores its configuration in the checkpoint and refuses to resume with another one.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pathlib
import pickle
import random
import threading
import warnings

import numpy as np
import torch

from plumbing.cli import one_line
from plumbing.readers import check_file, read_json

STATE_VARIABLE = "NH_STATE"
DEFAULT_STATE = "/var/cache/numhom-state"
LOCK_FILE = ".lock"  # in a held folder: the holder's PID; the lock is an flock on it


class NonFiniteLossError(ValueError):
    """Training stopped because the loss became NaN or infinite (bad data or too large a step)."""


def state_root() -> pathlib.Path:
    """The folder of the long runs' state: ``$NH_STATE``, default ``/var/cache/numhom-state``."""
    return pathlib.Path(os.environ.get(STATE_VARIABLE) or DEFAULT_STATE)


def state_path(*parts: str) -> pathlib.Path:
    """``state_root() / parts``, e.g. ``state_path("data", "paper000.h5")``."""
    return state_root().joinpath(*parts)


def save_atomic(obj, path) -> None:
    """``torch.save`` to ``path`` so that a crash leaves the previous file or the new one, whole."""
    path = pathlib.Path(path)
    # One temporary file per process and thread: another run saving the same file at the same
    # time (refused by ``exclusive_folder``, but a reader of the API may not take it) never
    # writes into ours nor renames it away.
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
    # Serialise in memory first: torch.save straight to a full disk raises a RuntimeError
    # ("unexpected pos 448 vs 342"), a plain write an OSError that names the file and the reason.
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(
            e.errno,
            f"{e.strerror or e}; the previous {path.name} is kept: make room and rerun the same "
            "command to resume",
            str(path),
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def update_json(path, key: str, value) -> dict:
    """Set ``key`` of the JSON object in ``path`` to ``value`` and return the whole object.

    Several runs may add their rows to one results file: each update takes an ``flock`` on
    ``<path>.lock`` (waiting for the others), reads the file as it is now, and replaces it
    whole (written beside, then renamed), so no run's row is lost to another's older copy.
    """
    import json

    path = pathlib.Path(path)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        table = read_json(path, "results table", absent={})
        table[key] = value
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_native_id()}.tmp")
        try:
            tmp.write_text(json.dumps(table, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return table
    finally:
        os.close(fd)  # releases the lock


_HELD: dict[str, list] = {}  # folders this process holds: real path -> [descriptor, depth]


@contextlib.contextmanager
def exclusive_folder(folder, what: str = "checkpoint folder", option: str = "--checkpoint-dir"):
    """Hold ``folder`` for this process while the block runs (created if missing).

    The lock is an ``flock`` on ``folder/.lock``, kept open for the run: the kernel releases it
    when the process ends, however it ends, so a killed run never blocks the rerun (the PID left
    in the file is only read to name a live holder). Nested holds in one process are one hold.

    Raises
    ------
    ValueError
        when another process holds ``folder``; the message names the folder and that process.
    """
    folder = pathlib.Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield folder
        finally:
            _HELD[key][1] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(f"cannot lock the {what} {folder} ({one_line(e)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        if isinstance(e, BlockingIOError):
            pid = holder if holder.isdigit() else None
            who = f"PID {pid}" if pid else "a process that is starting"
            wait = f"wait until it ends (ps -p {pid})" if pid else "wait until it ends"
            raise ValueError(
                f"the {what} {folder} is in use by another run ({who}); {wait}, or choose "
                f"another folder ({option})"
            ) from None
        raise ValueError(f"cannot lock the {what} {folder} ({one_line(e)})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = [fd, 1]
    try:
        yield folder
    finally:
        del _HELD[key]
        os.close(fd)  # releases the lock; the file stays (deleting it would race a new holder)


def load_checkpoint(path, device="cpu") -> dict:
    """A checkpoint written by ``save_atomic``, read without running code.

    Raises ``ValueError`` naming the file when it is missing, truncated, foreign, or holds
    objects other than tensors and plain Python values (a pickle that would run code, or a
    checkpoint of an older version of this project).
    """
    path = check_file(path, "checkpoint", "a .pt file (such as last.pt)")
    try:
        with warnings.catch_warnings():  # bytes that look like a newer pickle: refused below
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message wraps the unpickler's own words ("WeightsUnpickler error: ...")
        cause = str(e).split("WeightsUnpickler error:")[-1].split("\n")[0]
        if "global" not in cause.lower():  # not a pickle at all, or a truncated one
            raise ValueError(
                f"{path} is not a readable checkpoint (truncated or foreign: {cause.strip()})"
            ) from None
        raise ValueError(
            f"{path} holds objects other than tensors and plain values, so it is not loaded "
            "(a file from elsewhere, or a checkpoint of an older version: train it anew)"
        ) from None
    except Exception as e:  # noqa: BLE001  (whatever the bytes: torch's loader fails its own way)
        raise ValueError(
            f"{path} is not a readable checkpoint (truncated or foreign: {one_line(e)[:200]}); "
            "expected a .pt file written by torch.save"
        ) from None
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} is not a checkpoint of this project (it holds a {type(state).__name__}, "
            "not a dictionary)"
        )
    return state


def rng_state() -> dict:
    """The state of every random generator a run may draw from, as tensors and plain values."""
    name, key, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(name),
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` saved."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    key = n["key"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], key, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
