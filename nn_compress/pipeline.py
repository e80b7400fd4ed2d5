"""The NN-LOD offline pipeline: dataset preset → trained network → test loss (papers 000, 004).

Every step resumes: a finished dataset or a trained network with its test loss is not made
again, a half-made one is completed. The demos compose these functions::

    comm = world_comm()
    data = ensure_dataset(comm, "paper000-reduced")
    schedule = SCHEDULES["reduced000"]
    cfg = TrainConfig(dataset=str(data), checkpoint_dir=str(checkpoint_dir("paper000-reduced")),
                      epochs=schedule.epochs, schedule=schedule.stages)
    result = ensure_trained(comm, cfg)  # {"test_loss": ..., "checkpoint": ".../last.pt", ...}

The test loss is loss (2.9) on the test split, for the network file the experiments use
(``last.pt``, the network after the schedule's last epoch, as in the papers) and for
``best.pt`` (lowest validation loss), both in ``<checkpoint_dir>/test_loss.json``.
"""

from __future__ import annotations

import json
import pathlib
import time

from plumbing.checkpoint import exclusive_folder, state_path
from plumbing.cli import one_line
from plumbing.readers import read_json

from plumbing.checks import check_callable, check_flag, check_instance, check_str
from nn_compress.dataset import (
    GenerationConfig,
    check_split,
    config_differences,
    generate,
    presets,
    read_info,
    shared_training_samples,
)
from nn_compress.training import (
    NonFiniteLossError,
    SplitTensors,
    TrainConfig,
    check_train_config,
    evaluate,
    load_model,
    resolve_device,
    train,
)

NETWORK_FILE = "last.pt"  # the network every table is made with


def network_name(dataset: str, structured: bool = False, base: str | None = None) -> str:
    """Name of the checkpoint folder and results of a network trained on ``dataset``; ``base``
    names a network it started from other than the default one (transfer learning), so that
    networks grown from different bases never share a folder."""
    return dataset + ("-structured" if structured else "") + (f"-from-{base}" if base else "")


def base_tag(network: str | None) -> str | None:
    """The short name of a network given by path (an exported folder or a file) for
    ``network_name(..., base=)``: ``networks/paper000-plain`` -> ``paper000-plain``; the
    checkpoint file of a trained network is named after its folder."""
    if network is None:
        return None
    path = pathlib.Path(network)
    return path.parent.name if path.suffix == ".pt" else path.name


def dataset_path(preset: str) -> pathlib.Path:
    """Where the dataset of ``preset`` lives: ``$NH_STATE/data/<preset>.h5``."""
    return state_path("data", f"{preset}.h5")


def checkpoint_dir(name: str) -> pathlib.Path:
    """Where the network ``name`` is trained: ``$NH_STATE/checkpoints/<name>``."""
    return state_path("checkpoints", name)


def resolve_dataset(text: str) -> pathlib.Path:
    """A dataset argument: an HDF5 file, or a preset's name for its file in the state folder."""
    path = pathlib.Path(text)
    return path if path.suffix or path.exists() else dataset_path(text)


def check_dataset_file(path, config: GenerationConfig) -> None:
    """What ``generate`` would refuse in an existing dataset file, checked before a command
    writes anything: a file that is not a dataset, or one made with another configuration (a
    ValueError naming the file and the differing keys). A missing file passes: it will be made.

    Reads the configuration only, without HDF5's file lock (a generator may be writing it)."""
    import h5py

    path = pathlib.Path(path)
    if not path.exists():
        return
    try:
        with h5py.File(path, "r", locking=False) as f:
            stored = json.loads(f.attrs["config"])
    except Exception as e:  # noqa: BLE001  (whatever the bytes: one line naming the file)
        raise ValueError(
            f"{path} exists but is not a readable dataset of demos/generate.py "
            f"({one_line(e)[:200]}); move it away, or pass another file"
        ) from None
    diffs = config_differences(stored, json.loads(config.to_json()))
    if diffs:
        raise ValueError(
            f"{path} was generated with another configuration; differing keys: "
            + "; ".join(diffs)
            + ". Move it away, or use the configuration it was made with."
        )


def ensure_dataset(
    comm,
    preset: str,
    path=None,
    config: GenerationConfig | None = None,
    *,
    progress: bool = False,
    backend: str = "petsc",
    backend_options: dict | None = None,
) -> pathlib.Path:
    """The dataset of ``preset`` at ``path`` (default ``dataset_path(preset)``), generated or
    completed on all ranks of ``comm`` (collective); nothing is computed when it is complete.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or SerialComm
        The ranks that compute samples (``world_comm()``).
    preset : str
        A name of ``presets()``; also written into the file.
    path : str or pathlib.Path, optional
        The file (default ``$NH_STATE/data/<preset>.h5``).
    config : GenerationConfig, optional
        Instead of the preset's configuration.
    progress : bool
        A progress bar on rank 0.
    backend : str
        The corrector backend (``"petsc"``, ``"torch"``, ...).
    backend_options : dict, optional
        Its options, such as ``{"device": "cuda"}``.

    Returns
    -------
    pathlib.Path
        The complete dataset file.

    Raises
    ------
    ValueError
        If ``preset`` is unknown and no ``config`` is given.
    plumbing.cli.CollectiveError
        As ``generate``: the file cannot be written or holds another configuration.
    """
    check_str("preset", preset)
    check_instance("config", config, (GenerationConfig, type(None)), "GenerationConfig or None")
    if config is None and preset not in presets():
        raise ValueError(f"preset {preset!r} is unknown; choose one of {', '.join(presets())}")
    path = pathlib.Path(path or dataset_path(preset))
    generate(
        comm,
        config or presets()[preset],
        path,
        preset=preset,
        progress=progress,
        backend=backend,
        backend_options=backend_options,
    )
    return path


def test_losses(cfg: TrainConfig) -> dict:
    """Loss (2.9) on the test split for ``last.pt`` and ``best.pt`` of ``cfg.checkpoint_dir``."""
    from nn_compress.dataset import PatchCutter

    device = resolve_device(cfg.device)
    g = read_info(cfg.dataset).config
    cutter = PatchCutter(g.n_coarse, g.n_sub, g.ell, device, dim=g.dim)
    test = SplitTensors(cfg.dataset, "test", cutter, cfg, device)
    ckpt_dir = pathlib.Path(cfg.checkpoint_dir)
    out = {}
    for name in ("last.pt", "best.pt"):
        model, _ = load_model(ckpt_dir / name, device)
        out[name] = evaluate(model.to(test.padded.dtype), test)
    return out


def train_network(
    cfg: TrainConfig, *, resume: bool = True, progress: bool = False, log=print, on_epoch=None
) -> dict:
    """Train (or resume) and measure the test losses; the summary also goes to test_loss.json.

    Returns the final train / validation losses of ``last.pt``, its test loss ``test_loss``, the
    test loss of ``best.pt``, epochs, optimiser steps and seconds. ``on_epoch(epoch, last_path)``
    is called after every epoch's checkpoint (e.g. to export it).

    Parameters
    ----------
    cfg : TrainConfig
        The dataset, checkpoint folder and every hyperparameter.
    resume : bool
        Continue from ``cfg.checkpoint_dir``'s ``last.pt`` when it holds the same run.
    progress : bool
        A progress bar per epoch.
    log : callable
        Receives one line per message (default ``print``).
    on_epoch : callable, optional
        ``on_epoch(epoch, last_path)`` after every epoch's checkpoint.

    Returns
    -------
    dict
        ``checkpoint`` (the path of ``last.pt``), ``train_loss``, ``val_loss``, ``test_loss``
        (loss (2.9) on the test split), ``test_loss_by_file`` (``last.pt`` and ``best.pt``),
        ``epochs``, ``optimiser_steps`` and ``seconds``.

    Raises
    ------
    ValueError
        If the dataset or its test split cannot be read (checked before any epoch), or the
        checkpoint folder holds another run.
    nn_compress.training.NonFiniteLossError
        If a loss becomes non-finite.
    """
    check_instance("cfg", cfg, TrainConfig)
    resume, progress = check_flag("resume", resume), check_flag("progress", progress)
    check_callable("log", log)
    check_callable("on_epoch", on_epoch, optional=True)
    read_info(cfg.dataset)  # a readable dataset first, then its test split: before any epoch
    check_split(cfg.dataset, "test", cfg.families)
    check_train_config(cfg, resume=resume)  # the rest of the data and the initial network too
    # The folder stays held from the first epoch to test_loss.json: one run writes there.
    with exclusive_folder(cfg.checkpoint_dir):
        history = train(cfg, resume=resume, progress=progress, log=log, on_epoch=on_epoch)
        tests = test_losses(cfg)
        init = load_model(cfg.init_from)[1].get("generation_config") if cfg.init_from else None
        if init:  # a network from elsewhere may not say what it was trained on
            trained_on = GenerationConfig.from_json(json.dumps(init))
            shared = shared_training_samples(trained_on, read_info(cfg.dataset).config)
            if shared:
                log(
                    f"warning: {shared} test samples of {cfg.dataset} were training samples of the "
                    f"initial network {cfg.init_from}: its test loss is not a held-out measure"
                )
        result = {
            "checkpoint": str(pathlib.Path(cfg.checkpoint_dir) / NETWORK_FILE),
            "train_loss": history["train_loss"][-1],
            "val_loss": history["val_loss"][-1],
            "test_loss": tests[NETWORK_FILE],
            "test_loss_by_file": tests,
            "epochs": len(history["epoch"]),
            "optimiser_steps": history["steps"][-1],
            "seconds": sum(history["seconds"]),
        }
        (pathlib.Path(cfg.checkpoint_dir) / "test_loss.json").write_text(
            json.dumps(result, indent=1)
        )
    return result


def read_test_loss(checkpoint_dir) -> dict | None:
    """The ``test_loss.json`` that ``train_network`` leaves in ``checkpoint_dir`` when it is done
    (None when there is none): a JSON object, else a ValueError on one line that names it."""
    return read_json(
        pathlib.Path(checkpoint_dir) / "test_loss.json",
        "test-loss summary",
        "the test_loss.json that a finished training writes; delete it to train again",
        absent=None,
    )


def idle_barrier(comm, poll_seconds: float = 0.2) -> None:
    """A barrier that sleeps while it waits: MPI's blocking collectives spin a core, which the
    one rank that works alone (training on rank 0) needs on a small machine."""
    if getattr(comm, "size", 1) == 1 or not hasattr(comm, "Ibarrier"):
        return
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(poll_seconds)


def ensure_trained(comm, cfg: TrainConfig, log=print) -> dict:
    """The result of ``train_network`` for ``cfg``, trained on rank 0 if not done yet (collective).

    A failure on rank 0 (bad dataset, non-finite loss) raises the same ValueError on every rank.
    The other ranks wait in a sleeping barrier, leaving the cores to the training.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or SerialComm
        Every rank calls; rank 0 trains.
    cfg : TrainConfig
        The run; its ``checkpoint_dir/test_loss.json``, when present, is the result.
    log : callable
        Receives one line per message on rank 0.

    Returns
    -------
    dict
        The summary of ``train_network``, the same on every rank.

    Raises
    ------
    plumbing.cli.CollectiveError
        On every rank (a ValueError), if training failed on rank 0.
    """
    check_instance("cfg", cfg, TrainConfig)
    check_callable("log", log)
    result = error = None
    if comm.rank == 0:
        try:
            result = read_test_loss(cfg.checkpoint_dir)
            if result is None:
                result = train_network(cfg, log=log)
        except (ValueError, NonFiniteLossError) as e:
            error = str(e)
    idle_barrier(comm)
    error, result = comm.bcast((error, result), root=0)
    if error is not None:
        from plumbing.cli import CollectiveError

        raise CollectiveError(error)  # the same on every rank: one line from rank 0
    return result


def ensure_network(comm, dataset: str, schedule: str, **settings) -> tuple[pathlib.Path, dict]:
    """Dataset preset → trained network, each made if missing (collective): (network file, losses).

    Generation runs on all ranks (resumable), training on rank 0 with the configuration of
    ``network_config(dataset, schedule, **settings)`` (its keywords: ``init_from``, ``base``,
    ``structured``, ``batch_size``, ``threads``).
    """
    import sys

    ensure_dataset(comm, dataset, progress=comm.rank == 0 and sys.stderr.isatty())
    losses = ensure_trained(comm, network_config(dataset, schedule, **settings))
    return pathlib.Path(losses["checkpoint"]), losses


def network_config(
    dataset: str,
    schedule: str,
    *,
    init_from=None,
    base: str | None = None,
    structured: bool = False,
    batch_size: int = 1000,
    threads: int = 1,
) -> TrainConfig:
    """The training configuration ``ensure_network`` uses for a dataset preset and a named
    schedule (nothing read or made: a command checks it against the folder first)."""
    from nn_compress.training import SCHEDULES

    sched = SCHEDULES[schedule]
    return TrainConfig(
        dataset=str(dataset_path(dataset)),
        checkpoint_dir=str(checkpoint_dir(network_name(dataset, structured, base))),
        epochs=sched.epochs,
        schedule=sched.stages,
        plateau=sched.plateau,
        init_from=None if init_from is None else str(init_from),  # a checkpoint holds no Path
        structured=structured,
        batch_size=batch_size,
        threads=threads,
    )


def experiment_network(path, dim: int):
    """(model, checkpoint) of ``path``, a checkpoint or an export of ``demos/train.py``, for an
    experiment in ``dim`` dimensions: a ValueError when it is of the other dimension, does not
    say which discretization it was trained on, or its layer sizes do not fit that one (n, ℓ);
    experiment scripts call it before their first output."""
    from nn_compress.surrogate import NNLODSurrogate
    from nn_compress.training import load_model

    model, ckpt = load_model(path, dim=dim)
    g = ckpt.get("generation_config")
    if not isinstance(g, dict) or not {"n_coarse", "n_sub", "ell", "base_seed"} <= set(g):
        raise ValueError(
            f"{path} does not say which discretization it was trained on (no "
            "generation_config); pass a checkpoint or export of demos/train.py"
        )
    NNLODSurrogate(model, g["n_coarse"], g["n_sub"], g["ell"])  # sizes against (n, ℓ)
    return model, ckpt


def experiment_parser(doc: str):
    """The argument parser of an NN-LOD experiment script: its docstring's first paragraph as
    the description, the rest as the epilog, and ``--preset`` (reduced, paper); the script adds
    its own options, then ``add_experiment_arguments``."""
    import argparse

    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )
    parser.add_argument("--preset", choices=("reduced", "paper"), default="reduced")
    return parser


def add_experiment_arguments(parser, paper: str) -> None:
    """The options every NN-LOD experiment script shares (``paper``: "000" or "004")."""
    parser.add_argument(
        "--out", help=f"output folder (default: results/paper{paper}-<preset>[-structured])"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads of the whole run, training and evaluation alike: a row "
        "evaluated after training and the same row from its exported network agree bit for bit",
    )
    parser.add_argument(
        "--structured",
        action="store_true",
        help="structure-preserving networks (zero row/column sums; not in the papers)",
    )
    parser.add_argument(
        "--statistics",
        type=int,
        default=50,
        help="held-out samples per random family for the error distributions (0: none)",
    )
    parser.add_argument(
        "--project-output",
        action="store_true",
        help="project a plain network's local matrices onto zero row and column sums wherever "
        "the labels have them (nn_compress.network.project_onto_structure), without retraining: "
        "one factor changed, the row-sum bias",
    )


def check_experiment_arguments(args, **more) -> None:
    """The shared options' ranges (and ``more``: option -> (value, least)), checked alike on every
    rank before any data or training: a ``CollectiveError`` (one line from rank 0)."""
    from plumbing.cli import CollectiveError, check_at_least

    ranges = {"--threads": (args.threads, 1), "--statistics": (args.statistics, 0), **more}
    try:
        for name, (value, least) in ranges.items():
            check_at_least(name, value, least)
    except ValueError as e:
        raise CollectiveError(str(e)) from None
