"""Train the compression network Ψ on a dataset file (paper 000 Sec. 4.3; paper 004 Secs. 5.4, 6).

Minimises loss (2.9) with Adam on minibatches of (R_T(A), S_{A,T}) pairs cut on the fly from the
stored fields on the training device (GPU when present, else CPU)::

    python3 demos/train.py --dataset data/paper000.h5 --schedule paper000
    python3 demos/train.py --dataset data/paper004-low-small.h5 --schedule paper004 \\
        --init-from checkpoints/paper000/best.pt

Schedules (epochs: step size): paper000 = 20 epochs, 1e-4 for epochs 1-5 then 1e-5 (paper 000);
paper004 = 30 epochs, 1e-4 for 1-10, 1e-5 for 11-20, 1e-6 for 21-30 (transfer learning; our
choice, the numbers were lost from our copy of paper 004); reduced004 = 24 epochs, 3e-4 / 1e-4 /
1e-5 from epochs 1, 13, 21 (6 epochs left the networks far from converged); reduced000 = 12 epochs, 1e-3 / 1e-4 / 1e-5 from epochs 1, 9, 12 (for the
reduced datasets: 25x fewer pairs per epoch than the paper's, so a larger first step size).
Or give your own, e.g. ``--schedule 0:1e-3,10:1e-4 --epochs 15``.
A checkpoint is written after every epoch; rerunning the same command resumes. The loss curves
go to <checkpoint-dir>/history.{json,csv} and loss.png; the test loss to test_loss.json.
"""

import argparse
import json
import pathlib
import sys

from nn_compress.training import (
    PAPER000_SCHEDULE,
    PAPER004_SCHEDULE,
    NonFiniteLossError,
    SplitTensors,
    TrainConfig,
    evaluate,
    load_model,
    resolve_device,
)

SCHEDULES = {
    "paper000": (20, PAPER000_SCHEDULE),
    "paper004": (30, PAPER004_SCHEDULE),
    "reduced004": (24, ((0, 3e-4), (12, 1e-4), (20, 1e-5))),
    "reduced000": (12, ((0, 1e-3), (8, 1e-4), (11, 1e-5))),
}


def parse_schedule(text: str):
    if text in SCHEDULES:
        return SCHEDULES[text]
    try:
        stages = tuple((int(e), float(lr)) for e, lr in (part.split(":") for part in text.split(",")))
    except ValueError:
        raise ValueError(f"--schedule {text!r}: use a name ({', '.join(SCHEDULES)}) or 'epoch:lr,...'") from None
    if not stages or stages[0][0] != 0:
        raise ValueError(f"--schedule {text!r}: the first stage must start at epoch 0")
    return None, stages


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--dataset", required=True, help="HDF5 file from demos/generate.py")
    p.add_argument("--checkpoint-dir", help="default: checkpoints/<dataset name>")
    p.add_argument("--schedule", default="paper000", help="paper000 | paper004 | reduced004 | 'epoch:lr,...'")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the schedule's)")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--init-from", help="checkpoint to start from (transfer learning)")
    p.add_argument("--families", nargs="+", help="train on these families only")
    p.add_argument("--max-per-family", type=int, help="first samples of each family and split only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: OpenBLAS already uses every core)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint (it is overwritten)")
    args = p.parse_args(argv)

    try:
        epochs, schedule = parse_schedule(args.schedule)
    except ValueError as e:
        p.error(str(e))
    epochs = args.epochs or epochs
    if epochs is None:
        p.error("--epochs is required with a custom --schedule")
    if not pathlib.Path(args.dataset).exists():
        p.error(f"dataset {args.dataset} does not exist (make it with demos/generate.py)")
    ckpt_dir = args.checkpoint_dir or f"checkpoints/{pathlib.Path(args.dataset).stem}"
    cfg = TrainConfig(dataset=args.dataset, checkpoint_dir=ckpt_dir, epochs=epochs, batch_size=args.batch_size,
                      schedule=schedule, seed=args.seed, init_from=args.init_from, families=args.families,
                      max_per_family=args.max_per_family, device=args.device, threads=args.threads)
    from nn_compress.training import train

    print(f"train: {json.dumps(cfg.to_dict())}\n  device {resolve_device(cfg.device)}", flush=True)
    try:
        history = train(cfg, resume=not args.no_resume, progress=sys.stderr.isatty())
    except (ValueError, NonFiniteLossError) as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    # Test loss of the final network, loss (2.9) on the test split.
    device = resolve_device(cfg.device)
    model, ckpt = load_model(pathlib.Path(ckpt_dir) / "last.pt", device)
    from nn_compress.dataset import PatchCutter, read_info

    g = read_info(cfg.dataset).config
    test = SplitTensors(cfg.dataset, "test", PatchCutter(g.n_coarse, g.n_sub, g.ell, device), cfg, device)
    result = {"train_loss": history["train_loss"][-1], "val_loss": history["val_loss"][-1],
              "test_loss": evaluate(model, test), "epochs": len(history["epoch"]),
              "seconds": sum(history["seconds"])}
    (pathlib.Path(ckpt_dir) / "test_loss.json").write_text(json.dumps(result, indent=1))
    print(f"train: final train {result['train_loss']:.3e}  val {result['val_loss']:.3e}  "
          f"test {result['test_loss']:.3e}  -> {ckpt_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
