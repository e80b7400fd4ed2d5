"""Train the compression network Ψ on a dataset file (paper 000 Sec. 4.3; paper 004 Secs. 5.4, 6).

Minimises loss (2.9) with Adam on minibatches of (R_T(A), S_{A,T}) pairs cut on the fly from the
stored fields on the training device (GPU when present, else CPU)::

    python3 demos/train.py --dataset data/paper000.h5 --schedule paper000
    python3 demos/train.py --dataset data/paper004-low-small.h5 --schedule paper004 \\
        --init-from checkpoints/paper000/last.pt

Schedules (``nn_compress.training.SCHEDULES``; epochs: step size):
  paper000    20 epochs, 1e-4 for epochs 1-5, then 1e-5 (paper 000)
  paper004    1e-4 / 1e-5 / 1e-6, each until the validation loss falls by less than 1 % in two
              epochs (the plateau rule, --plateau 2 0.01), at most 30 epochs (transfer learning;
              our choice, the numbers were lost from our copy of paper 004)
  reduced000  12 epochs, 1e-3 / 1e-4 / 1e-5 from epochs 1, 9, 12 (reduced datasets: 25x fewer
              pairs per epoch than the paper's, so a larger first step size)
  reduced004  24 epochs, 3e-4 / 1e-4 / 1e-5 from epochs 1, 13, 21
  lod3d       10 epochs, 1e-3 / 1e-4 / 1e-5 from epochs 1, 7, 10 (the 3-D preset lod3d, CPU)
or your own, e.g. ``--schedule 0:1e-3,10:1e-4 --epochs 15``.

3-D datasets (``demos/generate.py --preset lod3d``) train the same way: the network is sized from
(n, ℓ, d) of the file, input (2ℓ+1)³ n³ and output 8 (2ℓ+2)³ (``demos/nnlod_3d.py`` runs the
whole 3-D chain).

A checkpoint is written after every epoch; rerunning the same command resumes. The loss curves
go to <checkpoint-dir>/history.{json,csv} and loss.png; the test losses of last.pt (the network
the experiments use) and best.pt to test_loss.json. ``--export DIR`` also writes the network
as files of at most 15 MiB (``nn_compress.training.export_network``) after every epoch. The run
holds its checkpoint folder and its export folder: a second run on either is refused in one line
naming the other process, and the data and ``--init-from`` network are checked before either
folder is made.
"""

import argparse
import contextlib
import json
import pathlib
import sys

from plumbing.checkpoint import exclusive_folder
from plumbing.cli import check_writable, run
from nn_compress.pipeline import (
    NETWORK_FILE,
    checkpoint_dir,
    network_name,
    resolve_dataset,
    train_network,
)
from nn_compress.training import (
    SCHEDULES,
    TrainConfig,
    check_train_config,
    export_network,
    parse_schedule,
    resolve_device,
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="HDF5 file from demos/generate.py, or a preset's name for $NH_STATE/data/<name>.h5",
    )
    p.add_argument(
        "--checkpoint-dir", help="default: $NH_STATE/checkpoints/<dataset name>[-structured]"
    )
    p.add_argument(
        "--schedule", default="paper000", help=f"{' | '.join(SCHEDULES)} | 'epoch:lr,...'"
    )
    p.add_argument("--epochs", type=int, help="number of epochs (default: the schedule's)")
    p.add_argument(
        "--plateau",
        nargs=2,
        metavar=("P", "DELTA"),
        help="keep each of the schedule's step sizes until the validation loss has not fallen "
        "by DELTA (relative, e.g. 0.01) below its stage's lowest for P epochs in a row, then "
        "the next; stop after the last (--epochs is then a cap)",
    )
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument(
        "--init-from", help="checkpoint or exported network to start from (transfer learning)"
    )
    p.add_argument("--families", nargs="+", help="train on these families only")
    p.add_argument(
        "--bf16-epochs",
        type=int,
        help="run the first N epochs' forward passes under bfloat16 autocast (faster on CPUs "
        "with AVX-512 BF16; not in the papers; see benchmarks/bf16.md)",
    )
    p.add_argument(
        "--structured",
        action="store_true",
        help="structure-preserving output layer (zero row/column sums; not in the papers); "
        "default checkpoint folder <dataset name>-structured",
    )
    p.add_argument(
        "--max-per-family",
        type=int,
        help="first training samples of each family only (validation and test stay whole)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (default 1: one run per core; 2 on a quiet 2-core machine)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument(
        "--no-resume", action="store_true", help="ignore an existing checkpoint (it is overwritten)"
    )
    p.add_argument("--export", help="also export the network to this folder after every epoch")
    p.add_argument(
        "--export-dtype",
        choices=("float32", "float16", "bfloat16"),
        help="store the exported weights in this precision (default: the training's)",
    )
    args = p.parse_args(argv)

    try:
        schedule = parse_schedule(args.schedule)
    except ValueError as e:
        p.error(str(e))
    epochs = args.epochs if args.epochs is not None else (schedule.epochs or None)
    if epochs is None:
        p.error("--epochs is required with a custom --schedule")
    for name, value in (
        ("--epochs", epochs),
        ("--batch-size", args.batch_size),
        ("--threads", args.threads),
        ("--max-per-family", args.max_per_family),  # None: all; 0 is no sample, an error
        ("--bf16-epochs", args.bf16_epochs),  # None: float32 throughout; 0 is an error
    ):
        if value is not None and value < 1:
            p.error(f"{name} {value}: must be at least 1")
    plateau = schedule.plateau
    if args.plateau is not None:
        try:
            plateau = (int(args.plateau[0]), float(args.plateau[1]))
        except ValueError:
            p.error(f"--plateau {' '.join(args.plateau)}: expected an integer and a number")
        if plateau[0] < 1 or not 0.0 <= plateau[1] < 1.0:
            p.error(f"--plateau {' '.join(args.plateau)}: P must be at least 1, DELTA in [0, 1)")
    if args.export_dtype and not args.export:
        p.error(f"--export-dtype {args.export_dtype} goes with --export FOLDER")
    resolve_device(args.device)
    dataset = resolve_dataset(args.dataset)
    ckpt_dir = args.checkpoint_dir or str(
        checkpoint_dir(network_name(dataset.stem, args.structured))
    )
    cfg = TrainConfig(
        dataset=str(dataset),
        checkpoint_dir=ckpt_dir,
        epochs=epochs,
        batch_size=args.batch_size,
        schedule=schedule.stages,
        seed=args.seed,
        init_from=args.init_from,
        structured=args.structured,
        bf16_epochs=args.bf16_epochs,
        families=args.families,
        max_per_family=args.max_per_family,
        device=args.device,
        threads=args.threads,
        plateau=plateau,
    )
    # Every setting, the data and the initial network against the data, before any output; then
    # the outputs: the checkpoint folder and the export folder, each held by this run alone.
    check_train_config(cfg, resume=not args.no_resume)
    if args.export:
        check_writable(args.export, "export folder", folder=True)
    on_epoch = None
    if args.export:

        def on_epoch(epoch, last):
            export_network(last, args.export, dtype=args.export_dtype)

    with contextlib.ExitStack() as held:
        held.enter_context(exclusive_folder(ckpt_dir))
        if args.export:  # two runs exporting into one folder would mix their shards
            held.enter_context(exclusive_folder(args.export, "export folder", "--export"))
        print(
            f"train: {json.dumps(cfg.to_dict())}\n  device {resolve_device(cfg.device)}",
            flush=True,
        )
        result = train_network(
            cfg, resume=not args.no_resume, progress=sys.stderr.isatty(), on_epoch=on_epoch
        )
        if args.export:
            export_network(
                pathlib.Path(ckpt_dir) / NETWORK_FILE,
                args.export,
                extra={"losses": result},
                dtype=args.export_dtype,
            )
    print(
        f"train: final train {result['train_loss']:.3e}  val {result['val_loss']:.3e}  "
        f"test {result['test_loss']:.3e} ({NETWORK_FILE}; "
        f"best.pt {result['test_loss_by_file']['best.pt']:.3e}), "
        f"{result['optimiser_steps']} Adam steps -> {ckpt_dir}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run("train", main, serial=True))
