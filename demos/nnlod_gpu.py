"""Paper-size NN-LOD offline phase on one GPU: PG-LOD data, training, test loss (papers 000, 004).

For a machine with torch, NumPy, SciPy and h5py only (no DOLFINx, no PETSc, no mpirun). It
chains, in one process:

1. a smoke run (preset ``small`` with 10 samples per family, 1 epoch, seconds) of the chain;
2. generation of the preset with the torch corrector backend (``lod_fenicsx.corrector_torch``)
   into ``data/<preset>.h5``, the same file ``mpirun ... demos/generate.py`` writes (resumable);
3. training with the paper's schedule (``paper000``, or ``paper004`` from ``--init-from``),
   exporting the network to ``<out>/network`` after every epoch (files of at most 15 MiB, so that
   they come back from a remote GPU machine; a run stopped early still leaves its last epoch);
4. the test loss of the exported network, in ``<out>/network/network.json`` ("losses").

The experiments need DOLFINx and PETSc for the fine references and run afterwards on the CPU::

    python3 demos/nnlod_gpu.py --preset paper000 --out results/gpu/paper000
    mpirun -n 2 python3 demos/paper000_experiments.py --preset paper \\
        --checkpoint results/gpu/paper000/network
    python3 demos/nnlod_gpu.py --preset paper004-low-small \\
        --init-from results/gpu/paper000/network --out results/gpu/paper004-low-small

Measured figures of the chain are printed and written to ``<out>/timings.json``.
"""

import argparse
import json
import pathlib
import sys
import time

from plumbing.cli import check_at_least, check_writable, run
from nn_compress.dataset import presets, world_comm
from nn_compress.pipeline import (
    NETWORK_FILE,
    check_dataset_file,
    dataset_path,
    ensure_dataset,
    train_network,
)
from nn_compress.training import (
    SCHEDULES,
    TrainConfig,
    export_network,
    initial_network,
    resolve_device,
)


def schedule_for(preset: str) -> str:
    return "paper000" if preset.startswith(("paper000", "small")) else "paper004"


def run_chain(
    preset, config, out, *, device, init_from, epochs=None, data=None, checkpoints=None, log=print
) -> dict:
    """Generate, train, test, export to ``out/network``; returns the timings and losses."""
    comm = world_comm()
    timings = {}
    t0 = time.perf_counter()
    data = ensure_dataset(
        comm,
        preset,
        data,
        config,
        progress=sys.stderr.isatty(),
        backend="torch",
        backend_options={"device": device},
    )
    timings["generation_s"] = time.perf_counter() - t0
    schedule = SCHEDULES[schedule_for(preset)]
    checkpoints = pathlib.Path(checkpoints or f"checkpoints/{preset}")
    cfg = TrainConfig(
        dataset=str(data),
        checkpoint_dir=str(checkpoints),
        epochs=schedule.epochs if epochs is None else epochs,
        schedule=schedule.stages,
        init_from=init_from,
        device=device,
    )
    t0 = time.perf_counter()
    result = train_network(
        cfg, log=log, on_epoch=lambda epoch, last: export_network(last, out / "network")
    )
    timings["training_s"] = time.perf_counter() - t0
    export_network(checkpoints / NETWORK_FILE, out / "network", extra={"losses": result})
    return {**timings, **result}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--preset", default="paper000", choices=sorted(presets()), help="dataset preset")
    p.add_argument("--out", required=True, help="folder for the exported network and the timings")
    p.add_argument("--init-from", help="exported network or checkpoint to start from (paper 004)")
    p.add_argument(
        "--device", default="cuda", help="cuda (default) or cpu (for a test of the chain)"
    )
    p.add_argument("--epochs", type=int, help="override the schedule's number of epochs")
    p.add_argument("--skip-smoke", action="store_true", help="skip the smoke run")
    args = p.parse_args(argv)
    if schedule_for(args.preset) == "paper004" and not args.init_from:
        p.error(f"--init-from is required for {args.preset} (transfer learning from paper 000)")
    # Everything before the smoke run: a mistake found after hours of generation costs hours.
    check_at_least("--epochs", args.epochs, 1)
    resolve_device(args.device)
    config = presets()[args.preset]
    if config.dim != 2:  # the torch corrector backend of the generation is 2-D only
        p.error(f"--preset {args.preset} is {config.dim}-D; this chain (torch backend) is 2-D")
    if args.init_from:  # of the preset's dimension and sizes, not found out after generation
        initial_network(args.init_from, config)
    check_dataset_file(dataset_path(args.preset), config)
    out = check_writable(args.out, "output folder", folder=True)
    record = {"preset": args.preset, "device": args.device}
    try:
        if not args.skip_smoke:
            import dataclasses

            small = presets()["small"]
            small = dataclasses.replace(small, families={k: 10 for k in small.families})
            smoke = pathlib.Path(
                "data/nnlod_gpu_smoke"
            )  # not under --out: nothing of it comes back
            t0 = time.perf_counter()
            run_chain(
                "small",
                small,
                smoke,
                device=args.device,
                init_from=None,
                epochs=1,
                data=smoke / "small.h5",
                checkpoints=smoke / "checkpoints",
                log=lambda *_: None,
            )
            record["smoke_s"] = time.perf_counter() - t0
            print(f"nnlod_gpu: smoke run passed in {record['smoke_s']:.1f} s", flush=True)
        record.update(
            run_chain(
                args.preset,
                presets()[args.preset],
                out,
                device=args.device,
                init_from=args.init_from,
                epochs=args.epochs,
            )
        )
    finally:
        (out / "timings.json").write_text(json.dumps(record, indent=1))
    print(f"nnlod_gpu: {json.dumps(record)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run("nnlod_gpu", main, serial=True))
