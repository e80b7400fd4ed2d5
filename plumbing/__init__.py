"""What every package of the project needs but is not the mathematics of a paper.

``lod_fenicsx``, ``nn_compress`` and ``hybrid_pinn`` read as their papers do; the error contract,
the files, the locks, the clocks and the threads they share live here:

* ``cli`` — one error contract for every command line, serial or under MPI (``run``,
  ``CollectiveError``, ``collective``, ``one_line``, ``check_writable``);
* ``checkpoint`` — the state root of long runs, atomic saves, exclusive folders (locks), checkpoint
  reading with ``weights_only=True``, random-number states;
* ``readers`` — one reader per kind of file (text, JSON, JSON Lines, ``.npy``, HDF5): whatever
  the bytes, one ValueError on one line that names the file and what was expected;
* ``checks`` — argument checks of the public API (sizes, real arrays, dtypes, devices): a
  ValueError or TypeError that names the argument;
* ``timing`` — wall-clock phases that are also PETSc log events (``-log_view``);
* ``threads`` — BLAS thread control (threadpoolctl);
* ``lazy`` — public names of a package imported on first use (PEP 562).

Nothing here imports DOLFINx; PETSc and torch only where a function needs them.
"""

from plumbing.lazy import lazy_exports

_API = {
    "run": "cli",
    "CollectiveError": "cli",
    "collective": "cli",
    "one_line": "cli",
    "check_writable": "cli",
    "check_at_least": "cli",
    "state_root": "checkpoint",
    "state_path": "checkpoint",
    "save_atomic": "checkpoint",
    "exclusive_folder": "checkpoint",
    "load_checkpoint": "checkpoint",
    "NonFiniteLossError": "checkpoint",
    "check_file": "readers",
    "reading": "readers",
    "refusal": "readers",
    "read_text": "readers",
    "read_json": "readers",
    "read_jsonl": "readers",
    "load_npy": "readers",
    "open_hdf5": "readers",
    "hdf5_dataset": "readers",
    "ArgumentTypeError": "checks",
    "check_size": "checks",
    "check_optional_size": "checks",
    "check_flag": "checks",
    "check_real": "checks",
    "check_choice": "checks",
    "check_str": "checks",
    "check_path": "checks",
    "check_instance": "checks",
    "check_callable": "checks",
    "check_dim": "checks",
    "check_real_dtype": "checks",
    "check_float_dtype": "checks",
    "check_finite": "checks",
    "check_real_array": "checks",
    "check_indices": "checks",
    "check_device": "checks",
    "phase": "timing",
    "blas_threads": "threads",
    "limit_threads": "threads",
}
__all__, __getattr__ = lazy_exports(__name__, _API)
