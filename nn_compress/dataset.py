"""Training data for the compression network: generation into one HDF5 file, and reading it back.

Paper 000, Sec. 4.2; paper 004, Secs. 5.2–5.3 and 6. Every sample is a global coefficient on
the fine grid; its labels are the padded local PG-LOD matrices S_{A,T}, eq. (3.9), of all
coarse elements T. The patches R_T(A), eq. (3.11), are *not* stored: they are cut out of the
stored global fields on the fly (:class:`PatchCutter`), on the training device.

File layout (one file, written by rank 0 only, samples in global order ``gid``; d = 2 shown,
in 3-D every N and N_H appears three times and S_{A,T} has 8 (2ℓ+2)^3 entries)::

    /fields          (n_samples, N, N)   float64  network input (A, or g = log A), [iy, ix]
    /coefficients    (n_samples, N, N)   float64  A, only when it differs from the input
    /local_matrices  (n_samples, N_H^2, 4 (2ℓ+2)^2) float64, S_{A,T} flattened column-wise
    /family          (n_samples,) int32  position in attrs["families"]
    /index           (n_samples,) int64  index of the sample within its family
    /split           (n_samples,) uint8  0 train, 1 validation, 2 test (80/10/10 per family)
    /done            (n_samples,) uint8  1 only after the sample's data was flushed
    /done_time       (n_samples,) float64  when it was marked done (Unix time; NaN: not yet)
    attrs: config (JSON), families, preset, versions (JSON), git_commit, created_utc, file_id
           (random, one per file made), layout; backends (JSON list: the corrector backends
           that computed the samples, "custom" for a caller's function) and reused (JSON:
           samples copied per lending file), where they apply

Samples are numbered family by family (``gid = offset[family] + index``); sample ``gid``
depends on (family, index, base seed) alone, so the file does not depend on how many MPI
ranks wrote it.

The space dimension d is part of the configuration (``GenerationConfig.dim``; written into the
config JSON only when it is 3, so that 2-D files keep their configuration and identity); readers
that need one dimension say so (``read_info(path, dim=2)``) and refuse the other in one line.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import functools
import json
import os
import pathlib
import platform
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from lod_fenicsx.patch import element_node_positions, padded_cell_indices, padded_node_indices
from plumbing.readers import hdf5_dataset, open_hdf5, reading
from plumbing.checks import (
    ArgumentTypeError,
    check_callable,
    check_dim,
    check_flag,
    check_instance,
    check_optional_size,
    check_path,
    check_real,
    check_float_dtype,
    check_size,
    check_str,
)

FORMAT_VERSION = 1
SPLITS = {"train": 0, "val": 1, "test": 2}
#: The ``layout`` attribute of a file, per dimension.
LAYOUTS = {
    2: "fields [gid, iy, ix]; local_matrices [gid, t = ty*N_H + tx, column-wise S_{A,T} with rows "
    "the (2l+2)^2 padded patch nodes and columns the 4 nodes of T] (lod_fenicsx.patch conventions)",
    3: "fields [gid, iz, iy, ix]; local_matrices [gid, t = (tz*N_H + ty)*N_H + tx, column-wise "
    "S_{A,T} with rows the (2l+2)^3 padded patch nodes and columns the 8 nodes of T] "
    "(lod_fenicsx.patch conventions)",
}


@dataclass(frozen=True)
class GenerationConfig:
    """Everything that determines the content of a dataset file (compared on resume).

    Parameters
    ----------
    n_coarse : int
        N_H, coarse elements per direction.
    n_sub : int
        n, fine cells per coarse element and direction.
    ell : int
        Oversampling layers ℓ.
    families : dict of str to int
        Coefficient family name (``nn_compress.fields.FAMILIES``) -> number of samples, in this
        order (the order of the gids).
    base_seed : int
        Sample (family, index) is drawn from (family, index, base_seed) alone.
    split : (float, float)
        Cumulative train / validation fractions per family (rounded half up); the rest is the
        test split.
    format_version : int
        The file format (``FORMAT_VERSION``).
    dim : int
        The space dimension d: fields ``[iy, ix]`` (2) or ``[iz, iy, ix]`` (3).

    Raises
    ------
    ValueError
        If ``dim`` is not 2 or 3.

    Examples
    --------
    >>> config = GenerationConfig(8, 4, 2, {"A0": 10, "Ams": 10})
    >>> config.describe(), config.n_samples, config.output_size
    ('N_H = 8, n = 4, ell = 2, d = 2', 20, 144)
    """

    n_coarse: int  # N_H: coarse elements per direction
    n_sub: int  # n: fine cells per coarse element and direction
    ell: int  # oversampling layers ℓ
    families: dict[str, int]  # family name -> number of samples, in this order
    base_seed: int = 20220529
    split: tuple[float, float] = (0.8, 0.9)  # cumulative train / validation fractions
    format_version: int = FORMAT_VERSION
    dim: int = 2  # space dimension d: fields [iy, ix] (2) or [iz, iy, ix] (3)

    def __post_init__(self):
        check_size("n_coarse", self.n_coarse)
        check_size("n_sub", self.n_sub)
        check_size("ell", self.ell, 0)
        check_instance("families", self.families, Mapping, "dict of family name -> count")
        if not self.families:
            raise ValueError("families is empty: give at least one family and its sample count")
        for name, count in self.families.items():
            check_str("families", name)
            check_size(f"families[{name!r}]", count)
        check_size("base_seed", self.base_seed, 0)
        split = self.split
        if isinstance(split, (str, bytes)) or not hasattr(split, "__len__") or len(split) != 2:
            raise ArgumentTypeError(f"split must be two fractions (train, val), got {split!r}")
        train, val = (check_real("split", q, least=0.0, most=1.0) for q in split)
        if train > val:
            raise ValueError(f"split {split!r}: the fractions are cumulative, train <= val")
        check_size("format_version", self.format_version)
        check_dim(self.dim)

    @property
    def n_fine(self) -> int:
        return self.n_coarse * self.n_sub

    @property
    def n_elements(self) -> int:
        """Coarse elements N_H^d: local matrices per sample."""
        return self.n_coarse**self.dim

    @property
    def n_samples(self) -> int:
        return sum(self.families.values())

    @property
    def output_size(self) -> int:
        """Entries 2^d (2ℓ+2)^d of one flattened S_{A,T}."""
        return (2 * (2 * self.ell + 2)) ** self.dim

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"])
        if d["dim"] == 2:  # 2-D configurations read as before d existed (resume, identity)
            del d["dim"]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GenerationConfig:
        d = json.loads(text)
        d["split"] = tuple(d["split"])
        return cls(**d)

    def describe(self) -> str:
        """``N_H = 8, n = 4, ell = 1, d = 3``: the discretization in words."""
        return f"N_H = {self.n_coarse}, n = {self.n_sub}, ell = {self.ell}, d = {self.dim}"

    def sample_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(family position, index within family, split code) of every gid."""
        fam, idx, split = [], [], []
        for f, count in enumerate(self.families.values()):
            i = np.arange(count)
            n_train, n_val = (int(np.floor(q * count + 0.5)) for q in self.split)  # half up
            fam.append(np.full(count, f, dtype=np.int32))
            idx.append(i)
            split.append(np.where(i < n_train, 0, np.where(i < n_val, 1, 2)).astype(np.uint8))
        return np.concatenate(fam), np.concatenate(idx), np.concatenate(split)


def _paper000_families(count: int) -> dict[str, int]:
    return {**{f"A{k}": count for k in range(9)}, "Ams": count}


def _hierarchical_families(contrast: str, count: int) -> dict[str, int]:
    from nn_compress.fields import representative_families

    return {name: count for name in representative_families(contrast)}


def presets() -> dict[str, GenerationConfig]:
    """Named dataset configurations (``demos/generate.py --preset``).

    ================================= ========== ============================================
    preset                            N_H, n, ℓ  samples
    ================================= ========== ============================================
    small (default)                   8, 4, 2    A0..A8, Ams x 20 (200; minutes on 2 cores)
    paper000                          32, 8, 2   A0..A8, Ams x 500 (5000), paper 000 Sec. 4.2
    paper000-reduced                  32, 8, 2   A0..A8, Ams x 20 (200)
    paper004-<c>-small                32, 8, 2   lognormal-<c> x 300, paper 004 Table 1
    paper004-low-large                32, 8, 2   lognormal-low x 800, Table 1
    paper004-<moderate|high>-large    32, 8, 2   lognormal-<c> x 3200, Table 1
    paper004-<c>-reduced              32, 8, 2   lognormal-<c> x 60
    paper004-hierarchical-<c>         32, 8, 2   hierarchical-<c> at 4 representative λ x 200
                                                 (800; our choice: the counts were lost from
                                                 our copy of 004)
    paper004-hierarchical-<c>-reduced 32, 8, 2   4 representative λ x 15 (60)
    lod3d (d = 3)                     8, 4, 1    A0..A5, Ams x 12 (84; 𝔄_k, k > 5, equal 𝔄_5
                                                 on 32³ cells); 17 min on 2 cores shared with
                                                 two other jobs (24 s per sample and rank)
    lod3d-lognormal-low (d = 3)       8, 4, 1    lognormal-low x 60 (σ² of the 2-D class)
    lod3d-tiny (d = 3)                2, 2, 1    A1, Ams x 10 (seconds; tests and smoke runs)
    ================================= ========== ============================================

    <c> is low, moderate or high (σ² from ``nn_compress.fields.SIGMA2``, and
    ``SIGMA2_HIERARCHICAL`` for the hierarchical datasets).

    Returns
    -------
    dict of str to GenerationConfig
        A new dict on every call, keyed by the names above with <c> spelled out.

    Examples
    --------
    >>> presets()["small"].describe(), presets()["small"].n_samples
    ('N_H = 8, n = 4, ell = 2, d = 2', 200)
    """
    out = {
        "small": GenerationConfig(8, 4, 2, _paper000_families(20)),
        "paper000": GenerationConfig(32, 8, 2, _paper000_families(500)),
        "paper000-reduced": GenerationConfig(32, 8, 2, _paper000_families(20)),
    }
    large = {"low": 800, "moderate": 3200, "high": 3200}
    for c in ("low", "moderate", "high"):
        fam = f"lognormal-{c}"
        out[f"paper004-{c}-small"] = GenerationConfig(32, 8, 2, {fam: 300})
        out[f"paper004-{c}-large"] = GenerationConfig(32, 8, 2, {fam: large[c]})
        out[f"paper004-{c}-reduced"] = GenerationConfig(32, 8, 2, {fam: 60})
        out[f"paper004-hierarchical-{c}"] = GenerationConfig(
            32, 8, 2, _hierarchical_families(c, 200)
        )
        out[f"paper004-hierarchical-{c}-reduced"] = GenerationConfig(
            32, 8, 2, _hierarchical_families(c, 15)
        )
    # Three dimensions: hexahedral patches of (2ℓ+1)³ coarse elements (paper 000 Sec. 2.1 allows
    # d = 3; the papers' experiments are 2-D). 32³ fine cells resolve the levels k <= 5 only.
    levels3d = {**{f"A{k}": 12 for k in range(6)}, "Ams": 12}
    out["lod3d"] = GenerationConfig(8, 4, 1, levels3d, dim=3)
    out["lod3d-lognormal-low"] = GenerationConfig(8, 4, 1, {"lognormal-low": 60}, dim=3)
    out["lod3d-tiny"] = GenerationConfig(2, 2, 1, {"A1": 10, "Ams": 10}, dim=3)
    return out


def shared_training_samples(
    trained_on: GenerationConfig, evaluated: GenerationConfig, split: str = "test"
) -> int:
    """How many samples of ``evaluated``'s ``split`` are training samples of ``trained_on``.

    Samples are pure functions of (family, index, base seed, grid): presets that differ only in
    their counts (reduced vs full, small vs large) share samples under other split labels, so a
    network trained on one must not be tested on the other's test split without saying so.
    """
    if (trained_on.base_seed, trained_on.n_fine) != (evaluated.base_seed, evaluated.n_fine):
        return 0
    t_fam, t_idx, t_split = trained_on.sample_table()
    e_fam, e_idx, e_split = evaluated.sample_table()
    t_names, e_names = list(trained_on.families), list(evaluated.families)
    train = {(t_names[f], i) for f, i, c in zip(t_fam, t_idx, t_split) if c == SPLITS["train"]}
    return sum(
        (e_names[f], i) in train for f, i, c in zip(e_fam, e_idx, e_split) if c == SPLITS[split]
    )


def config_differences(stored: dict, wanted: dict, prefix: str = "") -> list[str]:
    """Keys (dotted) whose values differ between two configuration dictionaries."""
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key, "<missing>"), wanted.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} (file: {a!r}, requested: {b!r})")
    return out


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

SampleFn = Callable[[str, int, int, int], tuple[np.ndarray, np.ndarray]]
LocalMatricesFn = Callable[[np.ndarray], np.ndarray]


def default_sample_fn(family: str, index: int, base_seed: int, n_fine: int, dim: int = 2):
    """(coefficient A, network input) from ``nn_compress.fields``."""
    from nn_compress import fields

    s = fields.sample(family, index, base_seed, n_fine, dim)  # ValueError names what is wrong
    return np.asarray(s.coefficient, dtype=np.float64), np.asarray(
        s.network_input, dtype=np.float64
    )


def default_local_matrices_fn(
    config: GenerationConfig, backend: str = "petsc", **options
) -> LocalMatricesFn:
    """Padded local PG-LOD matrices of all elements, on the calling rank (PatchSolver).

    ``backend`` and ``options`` choose the corrector backend (``lod_fenicsx.corrector``), e.g.
    ``"torch", device="cuda"``; both backends give the same matrices to round-off.
    """
    from lod_fenicsx.corrector import PatchSolver

    solver = PatchSolver(
        config.n_coarse, config.n_sub, config.ell, backend=backend, dim=config.dim, **options
    )
    return solver.local_matrices


class SerialComm:
    """The part of an MPI communicator that ``generate`` uses, for one process without MPI."""

    rank, size = 0, 1

    def bcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def Barrier(self):  # noqa: N802  (mpi4py's name)
        pass


MPI_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


def world_comm():
    """``MPI.COMM_WORLD`` under an MPI launcher (mpirun, srun), else a ``SerialComm``.

    A plain ``python3 demos/generate.py`` then never initialises MPI, so it runs where mpi4py
    is missing or its MPI cannot start a singleton (e.g. a GPU machine without mpirun).

    Returns
    -------
    mpi4py.MPI.Comm or SerialComm
        A launcher is detected by its environment variables (``MPI_LAUNCHER_VARIABLES``).

    Examples
    --------
    Without a launcher (the docs tests):

    >>> world_comm().size
    1
    """

    if any(v in os.environ for v in MPI_LAUNCHER_VARIABLES):
        from mpi4py import MPI

        return MPI.COMM_WORLD
    return SerialComm()


def flatten_local_matrices(local: np.ndarray) -> np.ndarray:
    """(n_el, (2ℓ+2)^d, 2^d) -> (n_el, 2^d (2ℓ+2)^d), column-wise (paper 000, Sec. 4.2)."""
    return np.ascontiguousarray(np.swapaxes(local, 1, 2)).reshape(local.shape[0], -1)


def unflatten_local_matrices(flat: np.ndarray, ell: int) -> np.ndarray:
    """Inverse of :func:`flatten_local_matrices`; d follows from the width 2^d (2ℓ+2)^d."""
    flat = np.asarray(flat)
    dim = next((d for d in (2, 3) if flat.shape[-1] == (4 * ell + 4) ** d), None)
    if flat.ndim != 2 or dim is None:
        raise ValueError(
            f"flattened local matrices of shape {flat.shape}: expected (k, 2^d (2 ell + 2)^d) = "
            f"(k, {(4 * ell + 4) ** 2}) or (k, {(4 * ell + 4) ** 3}) for ell = {ell}"
        )
    return np.swapaxes(flat.reshape(flat.shape[0], 2**dim, -1), 1, 2)


def package_versions() -> dict[str, str]:
    """Installed versions, read from package metadata: importing petsc4py or dolfinx here
    would initialise PETSc, which is collective, on rank 0 alone."""
    import importlib.metadata
    import sys

    versions = {"python": platform.python_version()}
    for module, dist in (
        ("numpy", "numpy"),
        ("h5py", "h5py"),
        ("mpi4py", "mpi4py"),
        ("petsc4py", "petsc4py"),
        ("dolfinx", "fenics-dolfinx"),
        ("torch", "torch"),
        ("scipy", "scipy"),
    ):
        try:
            versions[module] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            mod = sys.modules.get(module)
            versions[module] = getattr(mod, "__version__", "unknown") if mod else "unknown"
    return versions


def git_commit(start: pathlib.Path | None = None) -> str:
    """The checked-out commit, read from ``.git`` directly (git itself may not be installed)."""
    path = (start or pathlib.Path(__file__)).resolve()
    for d in [path, *path.parents]:
        git = d / ".git"
        if git.is_dir():
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref: "):
                return head
            ref = head[5:]
            if (git / ref).exists():
                return (git / ref).read_text().strip()
            packed = git / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
            return "unknown"
    return "unknown"


def _create_file(path, config: GenerationConfig, preset: str, store_coefficients: bool) -> None:
    path = pathlib.Path(path)
    # A name of our own (another run may be creating the same file), never an existing one.
    handle, tmp = tempfile.mkstemp(prefix=path.name + ".creating-", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the dataset from other users
    try:
        _write_new_file(tmp, config, preset, store_coefficients)
        # Appear complete or not at all, and never replace a file: another run may have made
        # it meanwhile and be writing to it (a replace would send its work to an unlinked file).
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # that run's file is the dataset now; the caller opens it under HDF5's lock
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            if not path.exists():  # a file system without hard links: a narrow race remains
                os.rename(tmp, path)
    finally:
        pathlib.Path(tmp).unlink(missing_ok=True)


def _write_new_file(tmp, config: GenerationConfig, preset: str, store_coefficients: bool) -> None:
    import h5py

    n_el, n_out = config.n_elements, config.output_size
    S, N, d = config.n_samples, config.n_fine, config.dim
    fam, idx, split = config.sample_table()
    with h5py.File(tmp, "w") as f:

        def big(name, shape):
            # Contiguous, allocated at creation, never filled: later writes touch raw data only,
            # never the file's metadata, so a crash mid-write cannot corrupt the file structure.
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            f.create_dataset(name, shape=shape, dtype="f8", dcpl=dcpl)

        big("fields", (S,) + (N,) * d)
        if store_coefficients:
            big("coefficients", (S,) + (N,) * d)
        big("local_matrices", (S, n_el, n_out))
        f["family"], f["index"], f["split"] = fam, idx, split
        f["done"] = np.zeros(S, dtype=np.uint8)
        f["done_time"] = np.full(S, np.nan)
        f.attrs["config"] = config.to_json()
        f.attrs["families"] = json.dumps(list(config.families))
        f.attrs["preset"] = preset
        f.attrs["versions"] = json.dumps(package_versions())
        f.attrs["git_commit"] = git_commit()
        f.attrs["created_utc"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        f.attrs["file_id"] = uuid.uuid4().hex  # two files made within one second differ too
        f.attrs["layout"] = LAYOUTS[d]


def _open_for_resume(path, config: GenerationConfig):
    """Open an existing file for appending; refuse one made with another configuration."""
    f, _ = _open_dataset(
        path,
        "r+",
        expect=config,
        locked="most likely ranks of an earlier run that was killed (SIGKILL of mpirun leaves its "
        "ranks running): find them with `pgrep -af generate.py`, end them, then rerun the same "
        "command to resume; the finished samples are kept",
    )
    if "done_time" not in f:  # files from before progress was timed
        f["done_time"] = np.full(f["done"].shape, np.nan)
    return f


#: A gap between two finished samples longer than this is a pause (the run was stopped and
#: resumed later), not the work of one sample (seconds; a paper-size sample takes 1-2).
RESUMED_AFTER = 600.0


def generation_progress(path) -> dict:
    """Where the generation of ``path`` stands: samples done of all, the rate of the last ten
    minutes of work (samples per second, None when nothing was finished then), and the seconds
    of work so far (``seconds``: the gaps between consecutive samples that are under
    ``RESUMED_AFTER``; a longer gap is a pause between two runs, not work).

    ``first_done`` and ``last_done`` are when the first and the last sample were finished (Unix
    time; None when none was).

    Reads without HDF5's file lock, so that it works while the generator writes."""
    f, _ = _open_dataset(path, locking=False)
    with f, reading(path, DATASET, DATASET_FILE):
        done = f["done"][:] == 1
        times = f["done_time"][:] if "done_time" in f else np.full(done.shape, np.nan)
    times = np.sort(times[done & np.isfinite(times)])
    rate = None
    if times.size >= 2:
        recent = times[times >= times[-1] - 600.0]
        if recent.size >= 2 and recent[-1] > recent[0]:
            rate = (recent.size - 1) / (recent[-1] - recent[0])
    first, last = (float(times[0]), float(times[-1])) if times.size else (None, None)
    gaps = np.diff(times)
    seconds = float(gaps[gaps < RESUMED_AFTER].sum())
    return {
        "done": int(done.sum()),
        "total": int(done.size),
        "rate": rate,
        "first_done": first,
        "last_done": last,
        "seconds": seconds,
    }


def generate(
    comm,
    config: GenerationConfig,
    path,
    *,
    preset: str = "custom",
    sample_fn: SampleFn | None = None,
    local_matrices_fn: LocalMatricesFn | None = None,
    progress: bool = True,
    backend: str = "petsc",
    backend_options: dict | None = None,
    reuse=(),
) -> dict:
    """Compute the missing samples of ``path`` on all ranks of ``comm``; rank 0 writes them.

    ``backend`` and ``backend_options`` choose the corrector backend of the default
    ``local_matrices_fn`` (``"torch", {"device": "cuda"}`` for a GPU; ``comm`` may then be a
    ``SerialComm``).

    ``reuse`` names other dataset files of the same discretization and base seed: the samples
    they hold done (same family and index) are copied instead of computed (a sample depends on
    its family, index and base seed alone), e.g. a small set from the large set it begins.

    The pending samples (``done == 0``) are dealt out cyclically by their position in the
    pending list; after every round the ranks gather their samples on rank 0, which writes
    each one, flushes, and only then sets and flushes its ``done`` flag. Returns a summary
    (samples computed, seconds) on every rank.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or SerialComm
        Every rank computes samples (collective); ``world_comm()`` gives the right one.
    config : GenerationConfig
        What the file holds; an existing file must have been made with the same one (resume).
    path : str or pathlib.Path
        The HDF5 file, created (with its folder) if missing, completed otherwise.
    preset : str
        The preset name written into the file's attributes.
    sample_fn : callable, optional
        ``(family, index, base_seed, n_fine) -> (coefficient, network_input)``, A and what the
        network sees (``[iy, ix]`` or ``[iz, iy, ix]`` arrays of side ``n_fine``); default:
        ``nn_compress.fields.sample``.
    local_matrices_fn : callable, optional
        ``coefficient -> (N_H^d, (2ℓ+2)^d, 2^d)`` local matrices S_{A,T}; default: PG-LOD's
        (``lod_fenicsx.PatchSolver``) with ``backend``.
    progress : bool
        A progress bar on rank 0.
    backend : str
        The corrector backend of the default ``local_matrices_fn`` (``"petsc"``, ``"torch"``,
        ...).
    backend_options : dict, optional
        Its options, such as ``{"device": "cuda"}``.
    reuse : sequence of str or pathlib.Path
        Dataset files to copy finished samples from.

    Returns
    -------
    dict
        ``computed`` (samples computed here), ``seconds``, ``ranks`` and ``reused`` (samples
        copied), the same on every rank.

    Raises
    ------
    plumbing.cli.CollectiveError
        A ValueError raised on every rank alike: the file is not writable, was made with
        another configuration, a ``reuse`` file does not fit, or writing failed (the finished
        samples are kept: rerun to resume).

    Examples
    --------
    Ten samples of the family A1 on a 2 x 2 coarse grid of 2 x 2 fine cells each:

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.h5"
    ...     summary = generate(world_comm(), GenerationConfig(2, 2, 1, {"A1": 10}), path,
    ...                        progress=False)
    ...     fields, matrices, gids = read_split(path, "train")
    >>> summary["computed"], fields.shape, matrices.shape
    (10, (8, 4, 4), (8, 4, 64))
    """
    from plumbing.timing import phase

    # The same arguments on every rank: a refusal is raised by all of them alike.
    check_instance("config", config, GenerationConfig)
    check_path("path", path)
    check_str("preset", preset)
    check_callable("sample_fn", sample_fn, optional=True)
    check_callable("local_matrices_fn", local_matrices_fn, optional=True)
    progress = check_flag("progress", progress)
    check_str("backend", backend)
    check_instance("backend_options", backend_options, (dict, type(None)), "dict or None")
    if isinstance(reuse, (str, os.PathLike)):
        raise ArgumentTypeError(f"reuse must be a list of dataset files, got {reuse!r}")
    reuse = [check_path("reuse", donor) for donor in reuse]
    # Import what may initialise PETSc on every rank, before rank 0 works alone (PETSc's
    # initialisation is collective).
    writer = backend if local_matrices_fn is None else "custom"  # recorded in attrs["backends"]
    if local_matrices_fn is None:
        local_matrices_fn = default_local_matrices_fn(config, backend, **(backend_options or {}))
    if sample_fn is None:
        import nn_compress.fields  # noqa: F401

        sample_fn = functools.partial(default_sample_fn, dim=config.dim)
    from plumbing.cli import CollectiveError, check_writable, one_line

    path = pathlib.Path(path)
    error, pending, reused = None, None, 0
    if comm.rank == 0:
        try:
            donors = [_ReuseSource(donor, config) for donor in reuse]  # checked before writing
            check_writable(path, "dataset file")
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                store_coefficients = any(
                    not np.array_equal(*sample_fn(name, 0, config.base_seed, config.n_fine))
                    for name in config.families
                )
                _create_file(path, config, preset, store_coefficients)
            f = _open_for_resume(path, config)
            for donor in donors:
                reused += donor.copy_into(f, path, config)
            pending = np.flatnonzero(f["done"][:] == 0)
            if len(pending):
                _record_backends(f, [writer])
        except (ValueError, OSError) as e:
            error = one_line(e)
    error = comm.bcast(error, root=0)
    if error is not None:
        raise CollectiveError(error)
    pending = comm.bcast(pending, root=0)

    names = list(config.families)
    fam, idx, _ = config.sample_table()
    bar = None
    if comm.rank == 0 and progress and len(pending):
        from tqdm import tqdm

        bar = tqdm(total=len(pending), unit="sample", desc=f"generate {path.name}", smoothing=0.1)

    elapsed = {}
    with phase(elapsed, "seconds", event="generate"):
        n_rounds = -(-len(pending) // comm.size)
        try:
            for k in range(n_rounds):
                j = k * comm.size + comm.rank
                result = None
                if j < len(pending):
                    gid = int(pending[j])
                    try:
                        a, x = sample_fn(
                            names[fam[gid]], int(idx[gid]), config.base_seed, config.n_fine
                        )
                        local = np.asarray(local_matrices_fn(a), dtype=np.float64)
                        result = (gid, a, x, flatten_local_matrices(local))
                    except Exception as e:  # reported on every rank below instead of a hang
                        result = (gid, None, None, f"{type(e).__name__}: {e}")
                gathered = comm.gather(result, root=0)
                failure = None
                if comm.rank == 0:
                    try:
                        failure = _write_round(f, gathered, names, fam, idx)
                    except OSError as e:  # e.g. disk full: end every rank, keep what is done
                        failure = (
                            f"writing {path} failed ({one_line(e)}); the samples finished so far "
                            "are kept: make room and rerun the same command to resume"
                        )
                    if bar is not None:
                        bar.update(sum(item is not None for item in gathered))
                failure = comm.bcast(failure, root=0)
                if failure is not None:
                    raise CollectiveError(failure)
        finally:
            if comm.rank == 0:
                if bar is not None:
                    bar.close()
                f.close()
    summary = {"computed": int(len(pending)), "seconds": elapsed["seconds"], "ranks": comm.size}
    summary["reused"] = comm.bcast(reused, root=0)
    return summary


class _ReuseSource:
    """A dataset file whose finished samples another file of the same discretization takes."""

    KEYS = ("n_coarse", "n_sub", "ell", "dim", "base_seed", "format_version")

    def __init__(self, path, config: GenerationConfig):
        self.path = pathlib.Path(path)
        # Without HDF5's lock: the lender may still be generating (a sample marked done there
        # was flushed before its flag).
        f, lender = _open_dataset(self.path, locking=False)
        self.backends = _backends_of(f)  # [] for a lender from before they were recorded
        f.close()
        theirs, ours = ({k: getattr(c, k) for k in self.KEYS} for c in (lender, config))
        diffs = config_differences(theirs, ours)
        if diffs:
            raise ValueError(
                f"{self.path} cannot lend samples: another discretization or seed; differing "
                "keys: " + "; ".join(diffs)
            )
        self.config = lender

    def copy_into(self, f, path, config: GenerationConfig) -> int:
        """Copy into the open file ``f`` the samples it lacks and this file holds done."""
        names, fam, idx, _ = list(config.families), *config.sample_table()
        offset, start = {}, 0
        for name, count in self.config.families.items():
            offset[name] = (start, count)
            start += count
        wanted = [
            (int(gid), offset[names[fam[gid]]][0] + int(idx[gid]))
            for gid in np.flatnonzero(f["done"][:] == 0)
            if names[fam[gid]] in offset and idx[gid] < offset[names[fam[gid]]][1]
        ]
        copied = 0
        src, _ = _open_dataset(self.path, locking=False)  # as in __init__
        with src:
            with reading(self.path, DATASET, DATASET_FILE):
                done = src["done"][:]
                times = src["done_time"][:] if "done_time" in src else np.full(done.shape, np.nan)
            for gid, sid in wanted:
                if done[sid] != 1:
                    continue
                with reading(self.path, DATASET, DATASET_FILE):
                    coefficient = None  # read only where the file keeps coefficients
                    if "coefficients" in f:
                        stored = "coefficients" if "coefficients" in src else "fields"
                        coefficient = src[stored][sid]
                    field_, flat = src["fields"][sid], src["local_matrices"][sid]
                _store_sample(f, gid, field_, coefficient, flat, times[sid])
                copied += 1
        if copied:
            record = json.loads(f.attrs.get("reused", "{}"))
            record[str(self.path)] = record.get(str(self.path), 0) + copied
            f.attrs["reused"] = json.dumps(record)
            _record_backends(f, self.backends)
            f.flush()
        return copied


def _record_backends(f, names) -> None:
    """Add ``names`` to the file's ``backends`` attribute: the corrector backends that computed
    its samples, in the order of first use ("custom": a caller's ``local_matrices_fn``; the
    backends agree to round-off, so this is provenance, not configuration)."""
    known = _backends_of(f)
    f.attrs["backends"] = json.dumps(known + [n for n in names if n not in known])


def _backends_of(f) -> list[str]:
    """The ``backends`` a file records; [] for a file from before they were recorded (or an
    attribute that is not a JSON list of names)."""
    try:
        names = json.loads(f.attrs.get("backends", "[]"))
    except ValueError:
        return []
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else []


def _write_round(f, gathered, names, fam, idx) -> str | None:
    """Write one round's samples (rank 0); each is marked done only after its data is flushed."""
    failure = None
    for item in gathered:
        if item is None:
            continue
        gid, a, x, flat = item
        if isinstance(flat, str):
            failure = failure or (
                f"sample {gid} ({names[fam[gid]]} #{idx[gid]}) failed: {flat}; the samples "
                "finished so far are kept, rerun to resume"
            )
            continue
        _store_sample(f, gid, x, a, flat, time.time())
    return failure


def _store_sample(f, gid: int, field_, coefficient, flat, done_time: float) -> None:
    """Write sample ``gid`` and flush, and only then mark it done (and flush again): a crash at
    any point leaves it either whole and done or not done."""
    f["fields"][gid] = field_
    if "coefficients" in f:
        f["coefficients"][gid] = coefficient
    f["local_matrices"][gid] = flat
    f.flush()
    f["done_time"][gid] = done_time
    f["done"][gid] = 1
    f.flush()


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@dataclass
class DatasetInfo:
    config: GenerationConfig
    families: list[str]
    attrs: dict = field(default_factory=dict)


def read_info(path, dim: int | None = None) -> DatasetInfo:
    """Configuration, family names and attributes of a dataset file (ValueError for other files).

    With ``dim`` (2 or 3), a file of the other space dimension is refused in one line.
    """
    f, config = _open_dataset(path)
    with f, reading(path, DATASET, DATASET_FILE):
        attrs = {k: (v if not isinstance(v, bytes) else v.decode()) for k, v in f.attrs.items()}
    check_dimension(config, dim, f"dataset {path}")
    return DatasetInfo(config, list(config.families), attrs)


def check_dimension(config: GenerationConfig, dim: int | None, what: str) -> None:
    """A ValueError when ``config`` is not of dimension ``dim`` (None: any)."""
    if dim is not None and config.dim != dim:
        raise ValueError(
            f"{what} holds {config.dim}-D data ({config.describe()}); a {dim}-D one is needed "
            f"here: use a {dim}-D dataset or network (demos/nnlod_3d.py for 3-D)"
        )


DATASET, DATASET_FILE = "dataset", "an HDF5 file written by demos/generate.py"


def _open_dataset(path, mode="r", *, locking=None, expect=None, locked="wait until it ends"):
    """A dataset file, opened (h5py's ``mode`` and ``locking``) and checked, with its
    configuration: every array of the layout a dataset (not a group, not a link that leads
    nowhere) of the shape and dtype that configuration gives. Whatever the bytes, a ValueError on
    one line that names the file otherwise; with ``expect``, also for a file of another
    configuration (naming the keys that differ). ``locked``: what to do when another process
    holds the file."""
    f = open_hdf5(
        path,
        DATASET,
        DATASET_FILE,
        mode,
        locking=locking,
        missing="make it with demos/generate.py",
        locked=locked,
    )
    try:
        with reading(path, DATASET, DATASET_FILE):
            return f, _check_layout(f, path, expect)
    except BaseException:
        f.close()
        raise


def _check_layout(f, path, expect: GenerationConfig | None) -> GenerationConfig:
    if "config" not in f.attrs or "local_matrices" not in f:
        raise ValueError(
            f"{path} is an HDF5 file but not a dataset of demos/generate.py (no config)"
        )
    text = f.attrs["config"]
    stored = json.loads(text)
    if not isinstance(stored, dict):
        raise ValueError(f"its config is a JSON {type(stored).__name__}, not an object")
    if expect is not None:
        diffs = config_differences(stored, json.loads(expect.to_json()))
        if diffs:
            raise ValueError(
                f"{path} was generated with another configuration; differing keys: "
                + "; ".join(diffs)
                + ". Use the same arguments to resume, or another --output for a new dataset."
            )
    config = GenerationConfig.from_json(text)
    # The config's JSON has its keys sorted: the order of the families (of the gids) is this.
    families = json.loads(f.attrs["families"])
    if not isinstance(families, list) or sorted(families) != sorted(config.families):
        raise ValueError(f"families {families} are not those of its config")
    config = dataclasses.replace(config, families={k: config.families[k] for k in families})
    S, N, d = config.n_samples, config.n_fine, config.dim
    shapes = {
        "fields": (S,) + (N,) * d,
        "local_matrices": (S, config.n_elements, config.output_size),
        "family": (S,),
        "index": (S,),
        "split": (S,),
        "done": (S,),
    }
    optional = {"coefficients": shapes["fields"], "done_time": (S,)}  # done_time: newer files
    for name, shape in [*shapes.items(), *((k, v) for k, v in optional.items() if k in f)]:
        hdf5_dataset(f, name, DATASET, shape)
    return config


def dataset_identity(path) -> str:
    """A fingerprint of a dataset file: its configuration, creation time and random file id (a
    file made anew at the same path, even with the same settings and within the same second, has
    another identity; files written before the id existed keep their old fingerprint)."""
    import hashlib

    attrs = read_info(path).attrs
    key = f"{attrs['config']}|{attrs.get('created_utc', '')}"
    if "file_id" in attrs:
        key += f"|{attrs['file_id']}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def read_split(
    path,
    split: str,
    families: list[str] | None = None,
    max_per_family: int | None = None,
    dtype=np.float64,
    chunk: int = 64,
):
    """Fields, local matrices and gids of one split, as NumPy arrays of ``dtype``.

    Read in chunks of samples, so that a float32 copy never needs a float64 one in memory.

    Refuses a split with samples that are not done (the generation is unfinished).

    Parameters
    ----------
    path : str or pathlib.Path
        A dataset file written by ``generate``.
    split : str
        ``"train"``, ``"val"`` or ``"test"``.
    families : list of str, optional
        Only these families (default: all).
    max_per_family : int, optional
        At most this many samples of each family (the first ones of the split).
    dtype : numpy.dtype
        The dtype of the returned arrays.
    chunk : int
        Samples read at a time.

    Returns
    -------
    fields : numpy.ndarray
        The network inputs, shape ``(samples, N, N)`` (``[gid, iy, ix]``; 3-D:
        ``(samples, N, N, N)``), N = N_H n.
    local_matrices : numpy.ndarray
        The S_{A,T} of every coarse element, flattened column-wise, shape
        ``(samples, N_H^d, 2^d (2ℓ+2)^d)``.
    gids : numpy.ndarray
        The samples' global numbers in the file.

    Raises
    ------
    ValueError
        If the file cannot be read, ``split`` or a family is unknown, the split is empty, or
        some of its samples are not done (the example of ``generate`` reads one).
    """
    check_path("path", path)
    _check_split_name(split)
    if families is not None:
        if isinstance(families, str):
            raise ArgumentTypeError(f"families must be a list of names, got {families!r}")
        families = [check_str("families", name) for name in families]
    max_per_family = check_optional_size("max_per_family", max_per_family)
    dtype, chunk = check_float_dtype("dtype", dtype), check_size("chunk", chunk)
    f, _ = _open_dataset(path)
    with f, reading(path, DATASET, DATASET_FILE):
        gids = _split_gids(f, path, split, families, max_per_family)
        fields_ = np.empty((len(gids),) + f["fields"].shape[1:], dtype=dtype)
        mats = np.empty((len(gids),) + f["local_matrices"].shape[1:], dtype=dtype)
        for start in range(0, len(gids), chunk):
            sel = gids[start : start + chunk]
            fields_[start : start + len(sel)] = f["fields"][sel]
            mats[start : start + len(sel)] = f["local_matrices"][sel]
    return fields_, mats, gids


def check_split(
    path, split: str, families: list[str] | None = None, max_per_family: int | None = None
) -> int:
    """The number of samples of one split, from the file's index arrays alone (no fields read);
    the ValueError of ``read_split`` when it is empty, unfinished or names unknown families."""
    _check_split_name(split)
    f, _ = _open_dataset(path)
    with f, reading(path, DATASET, DATASET_FILE):
        return len(_split_gids(f, path, split, families, max_per_family))


def _check_split_name(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: expected one of {list(SPLITS)}")


def _split_gids(f, path, split, families, max_per_family) -> np.ndarray:
    names = json.loads(f.attrs["families"])
    code, fam = f["split"][:], f["family"][:]
    mask = code == SPLITS[split]
    if families is not None:
        unknown = set(families) - set(names)
        if unknown:
            raise ValueError(f"{path}: families {sorted(unknown)} not in the file ({names})")
        mask &= np.isin(fam, [names.index(n) for n in families])
    if max_per_family is not None:
        keep = np.zeros_like(mask)
        for f_ in np.unique(fam[mask]):
            keep[np.flatnonzero(mask & (fam == f_))[:max_per_family]] = True
        mask = keep
    gids = np.flatnonzero(mask)
    if len(gids) == 0:
        raise ValueError(
            f"{path}: the {split} split is empty (too few samples per family: 80/10/10 of each "
            "family, rounded half up); generate more samples per family"
        )
    done = f["done"][:][gids]
    if not np.all(done == 1):
        raise ValueError(
            f"{path}: {np.count_nonzero(done != 1)} of {len(gids)} {split} samples are not "
            "done; finish the generation (rerun demos/generate.py with the same arguments)"
        )
    return gids


# --------------------------------------------------------------------------------------------
# Patches on the training device
# --------------------------------------------------------------------------------------------


class PatchCutter:
    """Cuts R_T(A), eq. (3.11), out of zero-padded global fields held as torch tensors.

    Uses the gather indices of ``lod_fenicsx.patch.padded_cell_indices`` on the fields'
    device, so only the global fields (not the 25x larger overlapping patches) stay in memory.
    """

    def __init__(self, n_coarse: int, n_sub: int, ell: int, device="cpu", dim: int = 2):
        import torch

        self.n_coarse, self.n_sub, self.ell, self.dim = n_coarse, n_sub, ell, dim
        self.cells = torch.as_tensor(padded_cell_indices(n_coarse, n_sub, ell, dim), device=device)
        nodes = padded_node_indices(n_coarse, ell, dim) >= 0  # (elements, s^d): interior to D
        cols = nodes[:, element_node_positions(ell, dim)]
        entries = cols[:, :, None] & nodes[:, None, :]  # column-wise flattened S_{A,T}
        self.masks = torch.as_tensor(entries.reshape(len(nodes), -1), device=device)

    def pad(self, fields):
        """(S, N, ..., N) or (N, ..., N) tensor (d axes of N) -> (S, side^d) flattened
        zero-padded fields."""
        import torch.nn.functional as F

        w = self.ell * self.n_sub
        batch = fields.reshape(-1, *fields.shape[-self.dim :])
        return F.pad(batch, (w,) * (2 * self.dim), mode="constant", value=0.0).flatten(1)

    def cut(self, padded, samples, elements):
        """R_T(A) for pairs (sample, element): (B, r)."""
        return padded[samples[:, None], self.cells[elements]]

    def all_patches(self, field):
        """R_T(A) of every element T of one field (N,)*d: (N_H^d, r), one gather."""
        return self.pad(field)[0][self.cells]

    def mask(self, elements, dtype):
        """1 where S_{A,T} is on nodes interior to D, else 0: ``(len(elements), 2^d (2ℓ+2)^d)``."""
        return self.masks[elements].to(dtype)
