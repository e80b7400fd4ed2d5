"""Training of the compression network on a dataset file: loss (2.9), Adam, step schedules.

Paper 000, Secs. 2.6 and 4.3: minibatches of 1000 pairs (R_T(A), S_{A,T}), Adam with step
size 1e-4 for 5 epochs, then 1e-5 for 15. Paper 004, Secs. 5.4 and 6 (transfer learning
from the paper-000 network; the copy of the paper lost the numbers, so the schedule here is
our choice): 1e-4 for 10 epochs, 1e-5 for 10, 1e-6 for 10. All schedules, with the reduced
ones for CPU runs, are in one registry, ``SCHEDULES``.

The loop reads the fields and labels of the train and validation splits once, keeps them on
the training device, and cuts the patches of each minibatch there (:class:`PatchCutter`).
Every epoch ends with a checkpoint (model, optimiser, scheduler, epoch, history, RNG states,
configuration) written atomically, and so does every ``checkpoint_seconds`` of training inside an
epoch (with the position in the epoch's minibatch order); a run restarted with the same
configuration continues from the last one and reproduces the uninterrupted run bit for bit.
Checkpoints hold tensors and plain values only and are read with ``weights_only=True``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import pathlib
import random
import time
from dataclasses import dataclass

import numpy as np
import torch

from plumbing.checkpoint import (
    NonFiniteLossError,
    exclusive_folder,
    load_checkpoint,
    rng_state,
    save_atomic,
    set_rng_state,
)
from plumbing.checks import (
    ArgumentTypeError,
    check_callable,
    check_choice,
    check_device,
    check_dim,
    check_flag,
    check_instance,
    check_optional_size,
    check_path,
    check_real,
    check_size,
    check_str,
)
from plumbing.cli import check_writable, one_line
from plumbing.readers import read_json, refusal
from lod_fenicsx.corrector_torch import resolve_device
from lod_fenicsx.q1 import stiffness_scale
from plumbing.threads import limit_threads
from plumbing.timing import phase
from nn_compress.dataset import (
    GenerationConfig,
    PatchCutter,
    check_split,
    dataset_identity,
    git_commit,
    read_info,
    read_split,
)
from nn_compress.network import CompressionNetwork, layer_sizes


@dataclass(frozen=True)
class Schedule:
    """Adam step sizes: ``stages`` are (first epoch, step size), piecewise constant.

    With ``plateau`` (patience, relative improvement) the stages' step sizes are taken in order,
    each until the validation loss stalls (``plateau_stage``), and ``epochs`` is a cap.
    """

    epochs: int
    stages: tuple[tuple[int, float], ...]
    note: str = ""
    plateau: tuple[int, float] | None = None


#: The plateau rule of the paper-size paper-004 runs: a step size is kept while the validation
#: loss falls by at least 1 % within two epochs (their epoch counts were lost from our copy).
PLATEAU_004 = (2, 0.01)


#: Named training schedules (``--schedule``): name -> Schedule (epochs, step-size stages).
SCHEDULES = {
    "paper000": Schedule(20, ((0, 1e-4), (5, 1e-5)), "paper 000, Sec. 4.3"),
    "paper004": Schedule(
        30,
        ((0, 1e-4), (10, 1e-5), (20, 1e-6)),
        "transfer learning, paper 004 Secs. 5.4, 6: the three step sizes, each until the "
        "validation loss stalls (PLATEAU_004), at most 30 epochs (our numbers: lost from our copy)",
        PLATEAU_004,
    ),
    # The 3200-coefficient sets of Table 1 (moderate and high contrast) at the 30-epoch cap
    # would cost 7 CPU-hours each; 8 epochs are about the Adam steps the cap allows on 800
    # coefficients (20 976 against 19 680), with the three step sizes at fixed epochs.
    "paper004-large": Schedule(
        8,
        ((0, 1e-4), (5, 1e-5), (7, 1e-6)),
        "transfer learning on 3200 coefficients (Table 1, moderate and high): the three step "
        "sizes of paper004 at fixed epochs, 8 epochs (about the Adam steps of 30 on 800)",
    ),
    "reduced000": Schedule(
        12,
        ((0, 1e-3), (8, 1e-4), (11, 1e-5)),
        "reduced datasets (25x fewer pairs per epoch): a larger first step size",
    ),
    "reduced004": Schedule(
        24,
        ((0, 3e-4), (12, 1e-4), (20, 1e-5)),
        "reduced paper-004 datasets (6 epochs left the networks far from converged)",
    ),
    # Paper 004, Sec. 6 trains the hierarchical networks with two step sizes ("until epoch e,
    # and thereafter"), where Sec. 5.4 uses three; the numbers are lost from our copy.
    "paper004-hierarchical": Schedule(
        30,
        ((0, 1e-4), (15, 1e-5)),
        "hierarchical fields, paper 004 Sec. 6: two stages (our numbers)",
        PLATEAU_004,
    ),
    "reduced004-hierarchical": Schedule(
        24,
        ((0, 3e-4), (16, 1e-5)),
        "reduced hierarchical datasets: two stages as in paper 004 Sec. 6",
    ),
    "lod3d": Schedule(
        10,
        ((0, 1e-3), (6, 1e-4), (9, 1e-5)),
        "3-D preset lod3d on one CPU core (demos/nnlod_3d.py): the stages of reduced000, shorter",
    ),
}


def optimiser_steps(config: GenerationConfig, epochs: int, batch_size: int) -> int:
    """Adam steps of a run over the whole training split of a dataset configuration."""
    _, _, split = config.sample_table()
    pairs = int((split == 0).sum()) * config.n_elements
    return epochs * -(-pairs // batch_size)


def parse_schedule(text: str) -> Schedule:
    """A schedule by its name in ``SCHEDULES`` or from ``'epoch:lr,...'`` (epochs then 0: unset)."""
    if text in SCHEDULES:
        return SCHEDULES[text]
    try:
        stages = tuple(
            (int(e), float(lr)) for e, lr in (part.split(":") for part in text.split(","))
        )
    except ValueError:
        raise ValueError(
            f"schedule {text!r}: use a name ({', '.join(SCHEDULES)}) or 'epoch:lr,...'"
        ) from None
    if not stages or stages[0][0] != 0:
        raise ValueError(f"schedule {text!r}: the first stage must start at epoch 0")
    bad = [lr for _, lr in stages if not (math.isfinite(lr) and lr > 0)]
    if bad:
        raise ValueError(f"schedule {text!r}: step sizes must be positive and finite, got {bad[0]}")
    return Schedule(0, stages)


@dataclass
class TrainConfig:
    """Every hyperparameter and seed of one training run (saved in each checkpoint).

    Parameters
    ----------
    dataset : str
        The dataset file (``demos/generate.py``).
    checkpoint_dir : str
        Folder of ``last.pt``, ``best.pt``, the history and the lock of the run.
    epochs : int
        Number of epochs (with ``plateau``: the most).
    batch_size : int
        (R_T(A), S_{A,T}) pairs per Adam step.
    schedule : tuple of (int, float)
        Piecewise constant step sizes: (first epoch, step size) per stage.
    seed : int
        Seed of the initial weights and the batch order.
    init_from : str, optional
        Checkpoint or exported network whose weights start the run (transfer learning).
    families : list of str, optional
        Restrict the data to these coefficient families (None: all in the file).
    max_per_family : int, optional
        First training samples of each family only (validation and test stay whole).
    dtype : str
        Parameter dtype, ``"float32"``.
    structured : bool
        Structure-preserving output layer (zero row and column sums; not in the papers).
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    threads : int
        torch and BLAS threads.
    bf16_epochs : int, optional
        The first this many epochs run the forward pass under bfloat16 autocast.
    plateau : tuple of (int, float), optional
        (patience, relative improvement): the schedule's step sizes in order, each until the
        validation loss stalls (``plateau_stage``), then stop.
    """

    dataset: str
    checkpoint_dir: str
    epochs: int = 20
    batch_size: int = 1000
    schedule: tuple[tuple[int, float], ...] = SCHEDULES[
        "paper000"
    ].stages  # (first epoch, step size)
    seed: int = 0
    init_from: str | None = None  # checkpoint whose weights start the run (transfer learning)
    families: list[str] | None = None  # restrict to these families (None: all in the file)
    max_per_family: int | None = None  # first training samples of each family (None: all);
    # validation and test splits are always whole, so that runs on subsets compare
    dtype: str = "float32"
    structured: bool = False  # structure-preserving output layer (not in the papers)
    device: str = "auto"  # "auto": cuda when available, else cpu
    threads: int = 1  # torch and BLAS threads (one per run when two runs share two cores)
    # The first bf16_epochs epochs run the forward pass under bfloat16 autocast (AVX-512 BF16 on
    # the CPU, not in the papers; None: float32 throughout; benchmarks/bf16.md measures the cost).
    bf16_epochs: int | None = None
    # (patience P, relative improvement δ): the schedule's step sizes, in order, each kept until
    # the validation loss stalls (``plateau_stage``), then stop; ``epochs`` is only a cap. None:
    # the step sizes change at the schedule's fixed epochs and the run lasts ``epochs``.
    plateau: tuple[int, float] | None = None

    def __post_init__(self):
        check_train_values(self)

    def lr_at(self, epoch: int) -> float:
        """Step size in epoch ``epoch`` (0-based) of the piecewise constant schedule."""
        lr = self.schedule[0][1]
        for start, value in self.schedule:
            if epoch >= start:
                lr = value
        return lr

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["schedule"] = [list(s) for s in self.schedule]
        if self.plateau is None:  # configurations read as before the rule existed (resume)
            del d["plateau"]
        else:
            d["plateau"] = list(self.plateau)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["schedule"] = tuple(tuple(s) for s in d["schedule"])
        if d.get("plateau") is not None:
            d["plateau"] = tuple(d["plateau"])
        return cls(**d)


def plateau_stage(val_losses, patience: int, min_improvement: float) -> int:
    """Stage of the plateau rule after the given epochs' validation losses.

    An epoch *improves* when its validation loss is below (1 − δ) times the lowest one of its
    stage so far (the first epoch of a stage always does). After ``patience`` epochs in a row
    without improvement the next stage begins; its lowest loss starts afresh. The run stops when
    the stage number reaches the number of step sizes.
    """
    stage, best, waiting = 0, math.inf, 0
    for loss in val_losses:
        if loss < (1.0 - min_improvement) * best:
            best, waiting = loss, 0
        else:
            waiting += 1
        if waiting >= patience:
            stage, best, waiting = stage + 1, math.inf, 0
    return stage


def relative_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Loss (2.9): mean over the batch of ½‖Ψ(R_T(A)) − S_{A,T}‖² / ‖S_{A,T}‖²."""
    num = (prediction - target).pow(2).sum(dim=1)
    den = target.pow(2).sum(dim=1)
    return 0.5 * (num / den).mean()


class SplitTensors:
    """One split on the training device: padded flattened fields and flattened labels."""

    def __init__(self, path, split: str, cutter: PatchCutter, cfg: TrainConfig, device):
        limit = cfg.max_per_family if split == "train" else None
        fields, mats, gids = read_split(path, split, cfg.families, limit, dtype=np.dtype(cfg.dtype))
        dtype = getattr(torch, cfg.dtype)
        self.padded = cutter.pad(torch.as_tensor(fields, dtype=dtype, device=device))
        self.labels = torch.as_tensor(mats, dtype=dtype, device=device)
        self.gids = gids
        self.cutter = cutter
        self.n_samples, self.n_el = mats.shape[0], mats.shape[1]

    def __len__(self) -> int:
        return self.n_samples * self.n_el

    def batch(self, pairs: torch.Tensor):
        """Inputs, labels and label masks of the (sample, element) pairs numbered ``pairs``."""
        s, t = pairs // self.n_el, pairs % self.n_el
        return (
            self.cutter.cut(self.padded, s, t),
            self.labels[s, t],
            self.cutter.mask(t, self.labels.dtype),
        )


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: SplitTensors, batch_size: int = 4096) -> float:
    """Loss (2.9) over a whole split, in chunks."""
    model.eval()
    total, device = 0.0, data.padded.device
    for start in range(0, len(data), batch_size):
        pairs = torch.arange(start, min(start + batch_size, len(data)), device=device)
        x, y, mask = data.batch(pairs)
        total += relative_loss(model(x, mask), y).item() * len(pairs)
    return total / len(data)


def build_model(
    n_sub: int, ell: int, structured: bool = False, dim: int = 2, n_fine: int | None = None
) -> CompressionNetwork:
    """The network for (n, ℓ, d); in 3-D its output is scaled by h^(d−2), h = 1 / n_fine."""
    scale = 1.0 if dim == 2 else stiffness_scale(n_fine, dim)  # n_fine may be None in 2-D
    return CompressionNetwork(
        layer_sizes(n_sub, ell, dim), structured=structured, dim=dim, output_scale=scale
    )


def network_dim(ckpt: dict) -> int:
    """Space dimension of a stored network: its ``dim``, else its dataset's, else 2 (networks
    from before 3-D existed)."""
    return int(ckpt.get("dim", (ckpt.get("generation_config") or {}).get("dim", 2)))


MAX_SHARD_BYTES = 15 * 2**20  # files that come back from the GPU machine: at most 16 MiB each


def load_model(checkpoint, device="cpu", dim: int | None = None) -> tuple[CompressionNetwork, dict]:
    """Network and its description from a training checkpoint (``.pt``) or an exported folder.

    The description holds at least ``layer_sizes``, ``generation_config`` and ``config``. With
    ``dim`` (2 or 3), a network of the other space dimension is refused in one line.

    Parameters
    ----------
    checkpoint : str or pathlib.Path
        A ``.pt`` file written by training, or a folder written by ``export_network`` (its
        ``network.json`` card and weight shards), such as ``networks/paper000-plain``.
    device : str or torch.device
        Where the weights go (``"cpu"``, ``"cuda"``).
    dim : int, optional
        The space dimension the caller needs.

    Returns
    -------
    (CompressionNetwork, dict)
        The network with its weights loaded, and its description: the checkpoint's entries (for
        an export: the card), the weights under ``"model"``.

    Examples
    --------
    The paper-000 network shipped with the code:

    >>> model, card = load_model("networks/paper000-plain")
    >>> card["layer_sizes"]
    [1600, 1600, 800, 800, 400, 400, 144, 144, 144]
    """
    path = pathlib.Path(check_path("checkpoint", checkpoint))
    # Before reading: a missing GPU is not a damaged file.
    device = check_device("device", device)
    dim = None if dim is None else check_dim(dim)
    ckpt = read_exported(path, device) if path.is_dir() else read_checkpoint(path, device)
    try:
        model = CompressionNetwork(
            ckpt["layer_sizes"],
            structured=ckpt.get("structured", False),
            dim=network_dim(ckpt),
            output_scale=ckpt.get("output_scale", 1.0),
        ).to(device)
        model.load_state_dict(ckpt["model"])
    except Exception as e:  # noqa: BLE001  (a readable file with entries of another kind)
        raise ValueError(f"{path} is not a network of this project ({one_line(e)[:200]})") from None
    if dim is not None and model.dim != dim:
        raise ValueError(
            f"{path} is a {model.dim}-D network (input {model.sizes[0]}, output "
            f"{model.sizes[-1]}); a {dim}-D one is needed here"
        )
    return model, ckpt


def read_exported(folder, device="cpu") -> dict:
    """The card of a folder written by ``export_network`` with its weights under ``"model"``; a
    ValueError naming the file for a missing, damaged or foreign card or shard."""
    folder = pathlib.Path(folder)
    info = read_card(folder)
    state = {}
    for shard in info["shards"]:
        state.update(load_checkpoint(folder / shard, device))
    return {**info, "model": state}


def read_card(folder) -> dict:
    """The ``network.json`` card of a folder written by ``export_network``, without its weights:
    a JSON object whose ``shards`` are file names in the folder; a ValueError naming the card
    for a missing, damaged or foreign one (another encoding, another JSON)."""
    card = pathlib.Path(folder) / "network.json"
    what, expected = "card of an exported network", "the network.json that export_network writes"
    info = read_json(card, what, expected)
    shards = info.get("shards")
    if not isinstance(shards, list) or not all(
        isinstance(s, str) and pathlib.PurePath(s).name == s for s in shards
    ):
        why = f"shards {str(shards)[:80]} is not a list of file names"
        raise refusal(card, what, why, expected)
    return info


def read_checkpoint(path, device="cpu") -> dict:
    """A checkpoint dictionary, read without running code; a ValueError (not a traceback) for a
    missing, truncated or foreign file."""
    ckpt = load_checkpoint(path, device)
    if "model" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint of nn_compress.training")
    return ckpt


def export_network(
    checkpoint,
    folder,
    extra: dict | None = None,
    max_bytes: int = MAX_SHARD_BYTES,
    dtype: str | None = None,
) -> list:
    """The network of a checkpoint as a folder of small files (weights only).

    Parameters
    ----------
    checkpoint : str or pathlib.Path
        A training checkpoint (``last.pt``, ``best.pt``).
    folder : str or pathlib.Path
        Where ``network.json`` (sizes, dataset and training configuration, loss history, the
        commit that exported it, the weights' storage dtype, ``extra``) and the shards
        ``network-00.pt``, ``network-01.pt``, ... go.
    extra : dict, optional
        More entries of the card (e.g. ``{"losses": ...}``).
    max_bytes : int
        Largest shard (the 5.06 M-parameter paper network in float32 is 20 MB: two shards).
    dtype : str, optional
        ``"float16"`` or ``"bfloat16"``: the floating point weights are stored rounded to it,
        half the bytes; ``load_model(folder)`` reads them back into the network's float32.

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    if dtype not in (None, "float32", "float16", "bfloat16"):
        raise ValueError(f"dtype {dtype!r}: use float32, float16 or bfloat16")
    check_path("checkpoint", checkpoint)
    check_path("folder", folder)
    check_instance("extra", extra, (dict, type(None)), "dict or None")
    max_bytes = check_size("max_bytes", max_bytes)
    ckpt = read_checkpoint(checkpoint)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shards, current, size = [], {}, 0
    for name, tensor in ckpt["model"].items():
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(getattr(torch, dtype))
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensor
        size += nbytes
    shards.append(current)
    names = [f"network-{i:02d}.pt" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        save_atomic(shard, folder / name)
    info = {
        key: ckpt[key] for key in ("layer_sizes", "generation_config", "config", "epoch", "history")
    }
    info["structured"] = ckpt.get("structured", False)
    info["dim"] = network_dim(ckpt)
    info["output_scale"] = ckpt.get("output_scale", 1.0)
    stored = {str(t.dtype).removeprefix("torch.") for s in shards for t in s.values()}
    info.update(
        extra or {},
        shards=names,
        source=str(checkpoint),
        exported_by_commit=git_commit(),
        storage_dtype=sorted(stored),
    )
    (folder / "network.json").write_text(json.dumps(info, indent=1))
    return [folder / n for n in names] + [folder / "network.json"]


def train(
    cfg: TrainConfig,
    *,
    resume: bool = True,
    progress: bool = False,
    log=print,
    on_epoch=None,
    checkpoint_seconds: float = 600.0,
    stop=None,
) -> dict:
    """Train (or continue training) the network; returns the loss history.

    Minimises loss (2.9) with Adam on minibatches of (R_T(A), S_{A,T}) pairs cut from the
    dataset's fields, one epoch after another, with the checkpoint folder held by this run alone.

    Parameters
    ----------
    cfg : TrainConfig
        Every setting of the run; a checkpoint of another configuration is refused.
    resume : bool
        Continue from ``last.pt`` of ``cfg.checkpoint_dir`` when it exists (bit-identically).
    progress : bool
        A progress bar per epoch.
    log : callable
        Receives one line per epoch and per event.
    on_epoch : callable, optional
        ``on_epoch(epoch, last_path)``, called after each epoch's checkpoint is written.
    checkpoint_seconds : float
        Inside an epoch, ``last.pt`` is rewritten every this many seconds of training.
    stop : callable, optional
        ``stop(step)``, called after every Adam step with the number of steps done, ends the
        run early (after writing a checkpoint) when it returns True; the same call resumes there.

    Returns
    -------
    dict
        The loss history: per epoch ``epoch``, ``lr``, ``train_loss``, ``val_loss``,
        ``seconds`` and ``steps`` (Adam steps up to the epoch's end).

    Raises
    ------
    NonFiniteLossError
        When a minibatch loss is NaN or infinite; the last checkpoint is left untouched.
    ValueError
        For a configuration, dataset or checkpoint folder that cannot be used (one line), or a
        folder held by another run.
    """
    check_instance("cfg", cfg, TrainConfig)
    resume, progress = check_flag("resume", resume), check_flag("progress", progress)
    check_callable("log", log)
    check_callable("on_epoch", on_epoch, optional=True)
    check_callable("stop", stop, optional=True)
    checkpoint_seconds = check_real("checkpoint_seconds", checkpoint_seconds, least=0.0)
    device = check_train_config(cfg, resume=resume)
    limit_threads(cfg.threads)
    # One run per folder (a second one is refused before it reads or writes a file there).
    with exclusive_folder(cfg.checkpoint_dir):
        return _train(cfg, device, resume, progress, log, on_epoch, checkpoint_seconds, stop)


def check_train_values(cfg: TrainConfig) -> None:
    """The fields of ``cfg`` (types, sizes, schedule, plateau rule, dtype, device name), checked
    on construction and again by ``check_train_config``; a ValueError (or TypeError) naming the
    field. The device's presence and the folder are ``check_train_config``'s."""
    check_path("dataset", cfg.dataset)
    check_path("checkpoint_dir", cfg.checkpoint_dir)
    for name in ("epochs", "batch_size", "threads"):
        check_size(name, getattr(cfg, name))
    for name in ("max_per_family", "bf16_epochs"):
        check_optional_size(name, getattr(cfg, name))
    check_size("seed", cfg.seed, 0)
    stages = cfg.schedule
    if (
        isinstance(stages, (str, bytes))
        or not hasattr(stages, "__len__")
        or not all(hasattr(stage, "__len__") and len(stage) == 2 for stage in stages)
    ):
        raise ArgumentTypeError(
            f"schedule must be (first epoch, step size) stages such as SCHEDULES['paper000']"
            f".stages, got {stages!r}"[:200]
        )
    for epoch, lr in stages:
        check_size("schedule epoch", epoch, 0)
        check_real("schedule step size", lr, positive=True)
    if not stages or stages[0][0] != 0:
        raise ValueError(f"schedule {stages!r}: the first stage must start at epoch 0")
    if cfg.plateau is not None:
        if isinstance(cfg.plateau, (str, bytes)) or len(cfg.plateau) != 2:
            raise ArgumentTypeError(f"plateau must be (patience, improvement), got {cfg.plateau!r}")
        patience, delta = cfg.plateau
        check_size("plateau patience", patience)
        if not 0.0 <= check_real("plateau improvement", delta) < 1.0:
            raise ValueError(f"plateau improvement {delta}: must be in [0, 1), e.g. 0.01")
    check_choice("dtype", cfg.dtype, ("float32", "float64"))
    check_flag("structured", cfg.structured)
    check_device("device", cfg.device, present=False)
    if cfg.init_from is not None:
        check_path("init_from", cfg.init_from)
    if cfg.families is not None:
        if isinstance(cfg.families, str):
            raise ArgumentTypeError(f"families must be a list of names, got {cfg.families!r}")
        for name in cfg.families:
            check_str("families", name)


def check_train_config(cfg: TrainConfig, resume: bool = True) -> torch.device:
    """Everything a user can get wrong in ``cfg``, checked before any file is written or a step
    made (a ValueError naming it): the fields (``check_train_values``), the device, the
    dataset's training and validation splits and the initial network against the dataset
    (``check_train_data``), and last that the checkpoint folder can be written (which makes
    it); returns the device."""
    check_instance("cfg", cfg, TrainConfig)
    check_train_values(cfg)  # again: the fields may have been changed since construction
    device = resolve_device(cfg.device)
    check_train_data(cfg, device, resume)
    check_writable(cfg.checkpoint_dir, "checkpoint folder", folder=True)
    return device


def check_resumable(cfg: TrainConfig) -> None:
    """Nothing when ``cfg.checkpoint_dir`` holds no run or a run of ``cfg`` (which then
    resumes); a ValueError naming the folder's ``last.pt`` and the settings that differ when it
    holds a run of another configuration: a command checks this before its first output."""
    last = pathlib.Path(cfg.checkpoint_dir) / "last.pt"
    if last.exists():
        _check_same_run(last, read_checkpoint(last), cfg)


def _check_same_run(
    last: pathlib.Path, ckpt: dict, cfg: TrainConfig, identity: str | None = None
) -> None:
    """A ValueError unless ``last`` is a run of ``cfg``. Where things lie is not part of a run:
    the epoch cap may grow (the run goes on, as a run with that cap from the start would), the
    checkpoint folder may be moved or copied, and the dataset file is known by its fingerprint
    (``dataset_identity``; ``identity`` when the caller has it), wherever it lies, when the
    checkpoint has one."""
    stored = dict(ckpt.get("config", {}))
    wanted = cfg.to_dict()
    known = "dataset_identity" in ckpt
    free = {"epochs", "checkpoint_dir"} | ({"dataset"} if known else set())
    diffs = [k for k in wanted if k not in free and stored.get(k) != wanted[k]]
    if diffs:
        raise ValueError(
            f"{last}: checkpoint made with another configuration (keys {diffs}); "
            "use another --checkpoint-dir or the same settings"
        )
    if known and identity is None and pathlib.Path(cfg.dataset).exists():
        identity = dataset_identity(cfg.dataset)
    if known and identity is not None and ckpt["dataset_identity"] != identity:
        raise ValueError(
            f"{last} was trained on another dataset file than {cfg.dataset} (another file, or "
            "one made anew since); pass --no-resume to start over on it, or another "
            "--checkpoint-dir"
        )


def check_train_data(cfg: TrainConfig, device="cpu", resume: bool = True):
    """The dataset's training and validation splits (readable, finished, not empty, with the
    families asked for), and the initial network (``init_from``, unless the run resumes from
    its ``last.pt``) against the dataset's dimension and sizes: read, never written, so that a
    mistake is refused before the checkpoint folder is made. Returns the dataset's
    configuration."""
    g = read_info(cfg.dataset).config
    for split in ("train", "val"):
        check_split(
            cfg.dataset, split, cfg.families, cfg.max_per_family if split == "train" else None
        )
    last = pathlib.Path(cfg.checkpoint_dir) / "last.pt"
    if cfg.init_from and not (resume and last.exists()):
        initial_network(cfg.init_from, g, device)
    return g


def initial_network(path, g, device="cpu") -> CompressionNetwork:
    """The network of ``path`` to start a run on a dataset of configuration ``g`` from; a
    ValueError for one of another dimension or other layer sizes."""
    init, _ = load_model(path, device, dim=g.dim)
    if init.sizes != layer_sizes(g.n_sub, g.ell, g.dim):
        raise ValueError(
            f"{path}: network sizes {init.sizes} do not match the dataset's "
            f"{layer_sizes(g.n_sub, g.ell, g.dim)} ({g.describe()}); start from a "
            "network trained on the same discretization"
        )
    return init


def _train(cfg, device, resume, progress, log, on_epoch, checkpoint_seconds, stop) -> dict:
    """``train`` after its checks, with the checkpoint folder held."""
    device_type = torch.device(device).type
    ckpt_dir = pathlib.Path(cfg.checkpoint_dir)
    last = ckpt_dir / "last.pt"

    info = read_info(cfg.dataset)
    identity = dataset_identity(cfg.dataset)
    g = info.config
    for split in ("train", "val"):
        check_split(
            cfg.dataset, split, cfg.families, cfg.max_per_family if split == "train" else None
        )
    init = None
    if cfg.init_from and not (resume and last.exists()):
        init = initial_network(cfg.init_from, g, device)
    cutter = PatchCutter(g.n_coarse, g.n_sub, g.ell, device=device, dim=g.dim)
    train_data = SplitTensors(cfg.dataset, "train", cutter, cfg, device)
    val_data = SplitTensors(cfg.dataset, "val", cutter, cfg, device)

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = build_model(g.n_sub, g.ell, cfg.structured, g.dim, g.n_fine).to(
        device=device, dtype=getattr(torch, cfg.dtype)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr_at(0))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: cfg.lr_at(e) / cfg.lr_at(0))
    history = {"epoch": [], "lr": [], "train_loss": [], "val_loss": [], "seconds": [], "steps": []}
    start_epoch = 0
    partial = {"batch": 0, "total": 0.0, "seconds": 0.0}  # where an epoch was left off

    if resume and last.exists():
        ckpt = read_checkpoint(last, device)
        _check_same_run(last, ckpt, cfg, identity)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        history = ckpt["history"]
        start_epoch = ckpt["epoch"] + 1
        partial = ckpt.get("partial_epoch", partial)
        set_rng_state(ckpt["rng"])
        where = f", batch {partial['batch']}" if partial["batch"] else ""
        log(f"resuming from {last} after epoch {ckpt['epoch'] + 1}{where}")
    elif init is not None:
        model.load_state_dict(init.state_dict())
        log(f"transfer learning: initial weights from {cfg.init_from}")

    steps_per_epoch = -(-len(train_data) // cfg.batch_size)

    def checkpoint(epoch: int, partial_epoch: dict | None = None) -> dict:
        """Everything a resumed run needs; ``epoch`` is the last finished one (0-based)."""
        ckpt = {
            "config": cfg.to_dict(),
            "layer_sizes": model.sizes,
            "structured": model.structured,
            "dim": model.dim,
            "output_scale": model.output_scale,
            "generation_config": json.loads(g.to_json()),
            "dataset_identity": identity,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "history": history,
            "rng": rng_state(),
            "steps_per_epoch": steps_per_epoch,
        }
        if partial_epoch is not None:
            ckpt["partial_epoch"] = partial_epoch
        save_atomic(ckpt, last)
        return ckpt

    for epoch in range(start_epoch, cfg.epochs):
        if cfg.plateau is not None:
            stage = plateau_stage(history["val_loss"], *cfg.plateau)
            if stage >= len(cfg.schedule):
                log(f"stopped by the plateau rule {cfg.plateau} after epoch {epoch}")
                break
            for group in optimizer.param_groups:  # the step size follows the rule, not the epoch
                group["lr"] = cfg.schedule[stage][1]
        epoch_time = {}
        with phase(epoch_time, "seconds", event="train_epoch"):
            model.train()
            # The permutation depends on (seed, epoch) only, so a resumed run sees the same batches.
            gen = torch.Generator(device="cpu").manual_seed(cfg.seed * 100003 + epoch)
            order = torch.randperm(len(train_data), generator=gen).to(device)
            first, total = partial["batch"], partial["total"]
            batches = range(first * cfg.batch_size, len(order), cfg.batch_size)
            if progress:
                from tqdm import tqdm

                batches = tqdm(
                    batches,
                    desc=f"epoch {epoch + 1}/{cfg.epochs}",
                    leave=False,
                    initial=first,
                    total=steps_per_epoch,
                )
            bf16 = cfg.bf16_epochs is not None and epoch < cfg.bf16_epochs
            clock = last_save = time.perf_counter()
            for b, start in enumerate(batches, start=first):
                pairs = order[start : start + cfg.batch_size]
                x, y, mask = train_data.batch(pairs)
                with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                    prediction = model(x, mask)
                loss = relative_loss(prediction.to(y.dtype), y)
                if not torch.isfinite(loss):
                    good = last if last.exists() else "none (first epoch)"
                    raise NonFiniteLossError(
                        f"non-finite training loss ({loss.item()}) in epoch {epoch + 1}, "
                        f"batch {b + 1}; stopped; the last good checkpoint is {good}"
                        " (check the dataset for NaN/inf values or lower the step size)"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(pairs)
                now = time.perf_counter()
                step = epoch * steps_per_epoch + b + 1
                halt = stop is not None and stop(step)
                if (halt or now - last_save >= checkpoint_seconds) and b + 1 < steps_per_epoch:
                    seconds = partial["seconds"] + now - clock
                    checkpoint(epoch - 1, {"batch": b + 1, "total": total, "seconds": seconds})
                    last_save = now
                    if halt:
                        log(f"stopped after {step} Adam steps; {last} resumes there")
                        return history
            train_loss = total / len(train_data)
            val_loss = evaluate(model, val_data)
            if not math.isfinite(val_loss):
                raise NonFiniteLossError(
                    f"non-finite validation loss in epoch {epoch + 1}; stopped; the last good "
                    f"checkpoint is {last if last.exists() else 'none'}"
                )
        history["epoch"].append(epoch + 1)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["seconds"].append(epoch_time["seconds"] + partial["seconds"])
        partial = {"batch": 0, "total": 0.0, "seconds": 0.0}
        # Histories from before steps were recorded: the batch size is part of the checked config.
        history.setdefault("steps", [e * steps_per_epoch for e in history["epoch"][:-1]])
        history["steps"].append((epoch + 1) * steps_per_epoch)
        scheduler.step()
        ckpt = checkpoint(epoch)
        if val_loss <= min(history["val_loss"]):
            save_atomic(ckpt, ckpt_dir / "best.pt")
        write_history(history, ckpt_dir)
        if on_epoch is not None:
            on_epoch(epoch + 1, last)
        if stop is not None and epoch + 1 < cfg.epochs and stop((epoch + 1) * steps_per_epoch):
            log(f"stopped after epoch {epoch + 1}; {last} resumes there")
            return history
        log(
            f"epoch {epoch + 1}/{cfg.epochs}: lr {history['lr'][-1]:.1e}  train {train_loss:.3e}  "
            f"val {val_loss:.3e}  ({history['seconds'][-1]:.1f} s)"
        )
    return history


def training_progress(checkpoint_dir) -> dict:
    """Where the run of ``checkpoint_dir`` stands, from its ``last.pt``: Adam steps done and in
    all, the last epoch's losses, seconds per step and in all, and when the checkpoint was
    written.

    A run that the plateau rule ended before its epoch cap (``stopped_by_plateau``) has done
    all its steps. The seconds per step are the last finished epoch's (the machine as it runs
    now: the mean over the run keeps early epochs that ran beside other work), the run's mean
    before that."""
    last = pathlib.Path(checkpoint_dir) / "last.pt"
    ckpt = read_checkpoint(last)
    history, cfg = ckpt["history"], ckpt["config"]
    partial = ckpt.get("partial_epoch", {"batch": 0, "seconds": 0.0})
    per_epoch = ckpt.get("steps_per_epoch") or (history["steps"][0] if history["steps"] else None)
    done = (ckpt["epoch"] + 1) * (per_epoch or 0) + partial["batch"]
    seconds = sum(history["seconds"]) + partial["seconds"]
    plateau = cfg.get("plateau")  # a run the plateau rule ended before its cap is done
    stopped = bool(plateau) and plateau_stage(history["val_loss"], *plateau) >= len(cfg["schedule"])
    epochs = ckpt["epoch"] + 1 if stopped else cfg["epochs"]
    return {
        "epoch": ckpt["epoch"] + 1,
        "epochs": cfg["epochs"],
        "stopped_by_plateau": stopped,
        "steps": done,
        "total_steps": None if per_epoch is None else epochs * per_epoch,
        "train_loss": history["train_loss"][-1] if history["train_loss"] else None,
        "val_loss": history["val_loss"][-1] if history["val_loss"] else None,
        "seconds_per_step": (
            history["seconds"][-1] / per_epoch
            if history["seconds"] and per_epoch
            else (seconds / done if done else None)
        ),
        "written": last.stat().st_mtime,
        "seconds": seconds,
        "history": history,
    }


def write_history(history: dict, out_dir) -> None:
    """Loss curves as JSON and CSV data and a PNG plot (Fig. 4.1 of paper 000)."""
    out_dir = pathlib.Path(out_dir)
    (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    with open(out_dir / "history.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        keys = list(history)
        w.writerow(keys)
        w.writerows(zip(*(history[k] for k in keys)))
    plot_history(history, out_dir / "loss.png")


def plot_history(history: dict, path, title: str = "loss (2.9)") -> None:
    """The loss curves as a PNG; skipped where matplotlib is missing (a bare GPU machine)."""
    plot_histories({"": history}, path, title)


def plot_histories(histories: dict, path, title: str = "loss (2.9)") -> None:
    """The training and validation loss of several runs (label -> history) in one PNG, as the
    paper-004 figures put the small and the large dataset of one contrast side by side."""
    try:
        import matplotlib
    except ImportError:
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k, (label, history) in enumerate(histories.items()):
        # One run: training and validation in two colours; several: one colour per run,
        # solid for training and dashed for validation.
        colours = (f"C{k}", f"C{k}") if label else ("C0", "C1")
        run = f"{label}, " if label else ""
        epochs = history["epoch"]
        ax.semilogy(epochs, history["train_loss"], "o-", color=colours[0], label=f"{run}training")
        ax.semilogy(
            epochs,
            history["val_loss"],
            "s--" if label else "s-",
            color=colours[1],
            label=f"{run}validation",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("J(θ)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
