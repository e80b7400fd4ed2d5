"""The argument checks of the public API of all three packages (issue 34, item 6).

Every public function and class of ``lod_fenicsx``, ``nn_compress`` and ``hybrid_pinn`` checks its
arguments before any work, as ``lod_fenicsx.pglod_solve`` does, with these helpers: one exception
whose message begins with the argument's name and says what it may be.

* A value of the wrong type (a float, a string or ``True`` where an integer is needed, a complex
  or boolean array where a real one is) raises :class:`ArgumentTypeError`: a ``TypeError`` that
  is also a ``ValueError``, so that the command lines' error contract (``plumbing.cli``, which
  reports ``ValueError`` in one line) treats it as the user error it is.
* A value out of range (a size <= 0, NaN or inf, a wrong shape, an unknown name or device)
  raises ``ValueError``.

Lower bounds of integers go through ``plumbing.cli.check_at_least`` (the command lines' own
check): ``n_coarse 0: must be at least 1``. Nothing here imports torch, DOLFINx or PETSc
except ``check_device`` (torch, when called).
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from plumbing.cli import check_at_least


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type: a TypeError, and a ValueError for the error contract."""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_size(name: str, value, least: int = 1) -> int:
    """An integer >= ``least`` (a size, a count, an index) as an int; ``True``/``False``, floats
    (also 4.0) and strings are refused (ArgumentTypeError), smaller values too (ValueError)."""
    if not _is_integer(value):
        raise ArgumentTypeError(
            f"{name} must be an integer, got {_shown(value)} ({type(value).__name__})"
        )
    check_at_least(name, int(value), least)
    return int(value)


def check_optional_size(name: str, value, least: int = 1) -> int | None:
    """``check_size`` where None means "not given"."""
    return None if value is None else check_size(name, value, least)


def check_flag(name: str, value) -> bool:
    """True or False (also NumPy's), as a bool; anything else is refused (not its truth value)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"{name} must be True or False, got {_shown(value)} ({type(value).__name__})"
        )
    return bool(value)


def check_real(
    name: str,
    value,
    *,
    least: float | None = None,
    most: float | None = None,
    positive: bool = False,
    finite: bool = True,
) -> float:
    """A real number as a float: not bool, complex, a string or an array (ArgumentTypeError);
    finite (unless ``finite=False``), > 0 with ``positive``, in [least, most] (ValueError)."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(
            f"{name} must be a real number, got {_shown(value)} ({type(value).__name__})"
        )
    x = float(value)
    if np.isnan(x) or (finite and not np.isfinite(x)):
        raise ValueError(f"{name} must be a finite number, got {x}")
    if positive and not x > 0:
        raise ValueError(f"{name} must be a positive number, got {x}")
    if least is not None and not x >= least:
        raise ValueError(f"{name} must be at least {least}, got {x}")
    if most is not None and not x <= most:
        raise ValueError(f"{name} must be at most {most}, got {x}")
    return x


def check_choice(name: str, value, choices):
    """``value`` if it is one of ``choices``, else a ValueError listing them (True is not 1)."""
    try:
        known = value in tuple(choices)
    except TypeError:  # an unhashable or incomparable value
        known = False
    if isinstance(value, (bool, np.bool_)) and not any(isinstance(c, bool) for c in choices):
        known = False
    if not known:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {_shown(value)}"
        )
    return value


def check_str(name: str, value) -> str:
    """A string (a name, an options prefix)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"{name} must be a string, got {_shown(value)} ({type(value).__name__})"
        )
    return value


def check_path(name: str, value):
    """A file or folder name: a str or an ``os.PathLike`` (not bytes, None or a number)."""
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise ArgumentTypeError(
            f"{name} must be a file or folder name (str or pathlib.Path), got {_shown(value)}"
        )
    return value


def check_instance(name: str, value, kind, what: str | None = None):
    """``value`` if it is an instance of ``kind`` (a class or a tuple of classes)."""
    if not isinstance(value, kind):
        what = what or (
            " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        )
        raise ArgumentTypeError(f"{name} must be a {what}, got {type(value).__name__}")
    return value


def check_callable(name: str, value, optional: bool = False):
    """A callable (None too with ``optional``)."""
    if not (callable(value) or (optional and value is None)):
        raise ArgumentTypeError(
            f"{name} must be a callable{' or None' if optional else ''}, got "
            f"{_shown(value)} ({type(value).__name__})"
        )
    return value


def check_dim(dim, name: str = "dim") -> int:
    """The space dimension d, 2 or 3, as an int."""
    if not _is_integer(dim):
        raise ArgumentTypeError(
            f"{name} must be 2 or 3 (the space dimension), got {_shown(dim)} ({type(dim).__name__})"
        )
    if dim not in (2, 3):
        raise ValueError(f"{name} must be 2 or 3 (the space dimension), got {dim!r}")
    return int(dim)


def check_real_dtype(name: str, dtype) -> np.dtype:
    """A real numeric dtype (integer or floating): bool, complex, strings and objects are
    refused, since NumPy and torch would take 0/1, drop the imaginary part or fail later."""
    kind = np.dtype(dtype)
    complex_ = np.issubdtype(kind, np.complexfloating)
    if kind == bool or not np.issubdtype(kind, np.number) or complex_:
        raise ArgumentTypeError(f"{name} must be a real numeric array, got dtype {kind}")
    return kind


def check_float_dtype(name: str, dtype) -> np.dtype:
    """A NumPy floating dtype (``np.float32``, ``"float64"``): not integers, bool or complex."""
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise ArgumentTypeError(f"{name} must be a floating dtype, got {_shown(dtype)}") from None
    if not np.issubdtype(kind, np.floating):
        raise ArgumentTypeError(f"{name} must be a floating dtype (float32, float64), got {kind}")
    return kind


def check_finite(name: str, array: np.ndarray, axes: str = "index") -> None:
    """A ValueError with the number of NaN/inf entries of ``array`` and the first one's index."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf); first at {axes} = "
            f"{first}"
        )


def check_real_array(
    name: str,
    value,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple | None = None,
    finite: bool = True,
    dtype=np.float64,
) -> np.ndarray:
    """An array-like of real numbers as an array of ``dtype`` (None: as it is).

    ``ndim`` is the number of axes (or a tuple of those allowed); ``shape`` the expected shape
    (``None`` entries match any length); with ``finite`` NaN and inf are refused.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested sequences
        raise ArgumentTypeError(f"{name} must be an array of real numbers ({e})") from None
    check_real_dtype(name, arr.dtype)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        axes = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name} must have {axes} axes, got shape {arr.shape}")
    if shape is not None and (
        arr.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, arr.shape))
    ):
        wanted = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {arr.shape}, expected {wanted}")
    if finite:
        check_finite(name, arr)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def check_indices(name: str, value, stop: int) -> np.ndarray:
    """Integer indices in [0, stop) as a 1-D int64 array (an empty array of any dtype too)."""
    arr = np.asarray(value)
    if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        raise ArgumentTypeError(f"{name} must be integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    bad = (arr < 0) | (arr >= stop)
    if bad.any():
        raise ValueError(f"{name}: index {int(arr[bad][0])} out of range [0, {stop})")
    return arr


def check_device(name: str, device, *, flag: str | None = None, present: bool = True):
    """A torch device of this project (``auto``, ``cpu``, ``cuda``, ``cuda:<index>``) as a
    ``torch.device``; ``auto`` is CUDA when available, else the CPU.

    One ValueError names the argument (and the command-line ``flag`` it came from, if any) for a
    name torch does not know, a device type other than the CPU and CUDA, and, with ``present``,
    a CUDA device this machine does not have; not torch's RuntimeError later. Without
    ``present`` only the name is checked (a configuration read on another machine).
    """
    import torch

    if not isinstance(device, (str, torch.device)):
        raise ArgumentTypeError(
            f"{name} must be a str or torch.device (auto, cpu, cuda, cuda:0), got "
            f"{_shown(device)} ({type(device).__name__})"
        )
    label = f"{name} {str(device)!r}" + (f" ({flag})" if flag else "")
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):  # torch's message lists twenty device types
        raise ValueError(
            f"{label}: torch knows no such device; use auto, cpu, cuda or cuda:<index>"
        ) from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"{label}: the project runs on cpu or cuda; use auto, cpu or cuda")
    if resolved.type == "cuda" and present:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"{label} requested, but torch {torch.__version__} sees no CUDA GPU; use 'cpu'"
                + (f" ({flag} cpu)" if flag else "")
                + ", or run on a machine with a GPU"
            )
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"{label}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            )
    return resolved
