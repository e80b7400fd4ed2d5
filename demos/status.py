"""Where every long run stands: datasets, NN-LOD trainings and hybrid PINN runs in ``$NH_STATE``.

Long runs keep their state outside the work tree, in one folder (``$NH_STATE``, default
``/var/cache/numhom-state``; ``./run`` makes it visible inside the environment)::

    $NH_STATE/data/<preset>.h5                  datasets (demos/generate.py)
    $NH_STATE/checkpoints/<network>/last.pt     NN-LOD trainings (demos/train.py)
    $NH_STATE/checkpoints/hybrid/<run>/last.pt  hybrid PINN runs (demos/hybrid_pinn_1d.py)
    $NH_STATE/logs/                             the runs' logs, where the commands were sent
    $NH_STATE/logs/load.log                     the machine's load every 5 minutes
                                                (env/long-runs/load-log.sh)

Each of them resumes when the same command runs again. This script only reads: for each run it
prints how far it is, its last losses or errors, its rate, the core-hours it took so far (one
thread each: the wall time of its work), the time left at that rate, and how long ago it last
wrote (a run that wrote nothing for 20 minutes is shown as idle); a file it
cannot read (damaged, foreign, a folder) gets one line that names it and why, and the other runs
are shown as usual::

    python3 demos/status.py
    python3 demos/status.py --write demos/results/nn_compress/long_runs.md   # append, dated

``--write`` appends the same report as a dated Markdown section (with the machine's load and each
training's losses per epoch), the committed record of a run that spans sessions.
"""

import argparse
import datetime
import os
import pathlib
import sys
import time

from hybrid_pinn.training import Trainer
from plumbing.checkpoint import state_root
from plumbing.cli import check_writable, one_line, run
from nn_compress.dataset import generation_progress
from nn_compress.training import training_progress

IDLE_AFTER = 20 * 60  # seconds without a write; checkpoints come at least every 10 minutes


def duration(seconds) -> str:
    if seconds is None:
        return "?"
    return str(datetime.timedelta(seconds=round(seconds)))


def activity(written: float | None, now: float, finished: bool = False) -> str:
    """'running' or 'idle' (no write for IDLE_AFTER), and the age of the last write; a finished
    run is neither."""
    if written is None:
        return "not started"
    age = now - written
    state = "" if finished else ("running, " if age < IDLE_AFTER else "idle, ")
    return f"{state}last write {duration(age)} ago"


def left(remaining: float, per_unit: float | None) -> str:
    return (
        "done"
        if remaining <= 0
        else f"{duration(None if per_unit is None else remaining * per_unit)} left"
    )


def where(remaining: float, per_unit: float | None, written: float | None, now: float) -> str:
    """'done (last write ...)' or '<time> left (running|idle, last write ...)'."""
    return f"{left(remaining, per_unit)} ({activity(written, now, finished=remaining <= 0)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--write", type=pathlib.Path, help="also append the report to this file")
    args = parser.parse_args(argv)
    if args.write is not None:
        check_writable(args.write, "--write file")
    lines, epochs = report(state_root(), time.time())
    try:
        print("\n".join(lines), flush=True)
    except BrokenPipeError:  # the reader went away (status.py | head -1): as any filter, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.write is not None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        section = [f"## {stamp} (load average {load}, {os.cpu_count()} cores)", ""]
        section += [f"    {line}" for line in lines] + [""] + epochs
        with open(args.write, "a") as f:
            f.write("\n".join(section) + "\n")
    return 0


def report(root: pathlib.Path, now: float) -> tuple[list[str], list[str]]:
    """One line per long run in ``root``, and a Markdown table of each training's epochs.

    A file that cannot be read (damaged, foreign, a folder where a file should be) gets one line
    naming it and why; the other runs are shown all the same."""
    lines, epochs = [f"state: {root}"], []
    if not root.is_dir():
        return lines + ["  nothing yet (no long run has started)"], epochs
    checkpoints = root / "checkpoints"
    runs = [
        ("dataset ", path.name, path, dataset_line, "a dataset of demos/generate.py")
        for path in sorted(root.glob("data/*.h5"))
    ]
    runs += [
        ("training", last.parent.name, last, training_lines, "a checkpoint of demos/train.py")
        for last in sorted(checkpoints.glob("*/last.pt"))
        if last.parent.name != "hybrid"
    ]
    runs += [
        ("hybrid  ", last.parent.name, last, hybrid_line, "a checkpoint of a hybrid PINN run")
        for last in sorted(checkpoints.glob("hybrid/*/last.pt"))
    ]
    if (root / "logs" / "load.log").is_file():
        lines += load_lines(root / "logs" / "load.log")
    for kind, name, path, describe, expected in runs:
        try:
            line, table = describe(path, now)
        except Exception as e:  # noqa: BLE001  (whatever the bytes: one line, and go on)
            why = one_line(e).replace(f"{path} ", "").replace(str(path), "it")[:300]
            line, table = f"{kind} {name}: cannot read {path}, expected {expected} ({why})", []
        lines.append(line)
        epochs += table
    return [printable(line) for line in lines], [printable(line) for line in epochs]


def load_lines(path: pathlib.Path, gap: float = 15 * 60) -> list[str]:
    """The machine's load beside the runs' timings: one line per stretch of ``load.log`` (lines
    ``<UTC time> <1-min> <5-min> <15-min load> <CPU model>``, one every 5 minutes) without a gap
    of more than ``gap`` seconds and on one CPU model, with the median and the range of the
    1-minute load; lines it cannot read are counted, not shown."""
    stretches, bad, last = [], 0, None
    for text in path.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            stamp, one, _, _, cpu = text.split()
            when = datetime.datetime.fromisoformat(stamp).timestamp()
            load = float(one)
        except ValueError:
            bad += 1
            continue
        if last is None or when - last[0] > gap or cpu != last[1] or when < last[0]:
            stretches.append((stamp, cpu, []))
        stretches[-1][2].append((stamp, load))
        last = (when, cpu)
    lines = []
    for first, cpu, samples in stretches:
        loads = sorted(load for _, load in samples)
        end, machine = samples[-1][0], cpu.replace("_", " ")
        lines.append(
            f"load     {first[:16].replace('T', ' ')} to {end[11:16]} UTC on {machine}: "
            f"1-min load median {loads[len(loads) // 2]:.2f}, range {loads[0]:.2f}-{loads[-1]:.2f} "
            f"({len(loads)} samples)"
        )
    if bad:
        lines.append(f"load     {path}: {bad} line(s) that are not <time> <3 loads> <CPU> left out")
    return lines


def printable(text: str) -> str:
    """``text`` with the bytes of a file name that is not UTF-8 shown as escapes (``\\xe9``)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def dataset_line(path: pathlib.Path, now: float) -> tuple[str, list[str]]:
    """The line of a dataset being generated (no table)."""
    p = generation_progress(path)
    per_sample = None if p["rate"] is None else 1.0 / p["rate"]
    rate = "?" if p["rate"] is None else f"{p['rate'] * 3600:.0f} samples/h"
    return (
        f"dataset  {path.name}: {p['done']}/{p['total']} samples, {rate}, "
        f"{p['seconds'] / 3600:.2f} core-h, "
        + (
            where(p["total"] - p["done"], per_sample, p["last_done"], now)
            if p["done"] == 0 or p["last_done"]
            else f"{left(p['total'] - p['done'], per_sample)} (no times)"
        )
    ), []


def training_lines(last: pathlib.Path, now: float) -> tuple[str, list[str]]:
    """The line of an NN-LOD training and the Markdown table of its epochs."""
    p = training_progress(last.parent)
    total = p["total_steps"] or 0
    losses = (
        ""
        if p["val_loss"] is None
        else (f", epoch {p['epoch']} losses train {p['train_loss']:.3e} val {p['val_loss']:.3e}")
    )
    line = (
        f"training {last.parent.name}: step {p['steps']}/{total or '?'} "
        f"(epoch {p['epoch']}/{p['epochs']} done"
        + (", stopped by the plateau rule" if p["stopped_by_plateau"] else "")
        + f"){losses}, "
        f"{(p['seconds_per_step'] or 0) * 1e3:.0f} ms/step, {p['seconds'] / 3600:.2f} core-h, "
        + where(total - p["steps"], p["seconds_per_step"], p["written"], now)
    )
    h, epochs = p["history"], []
    if h["epoch"]:
        epochs += [
            f"{last.parent.name}, loss (2.9) per epoch:",
            "",
            "| epoch | Adam steps | step size | training loss | validation loss | seconds |",
            "|---|---|---|---|---|---|",
        ]
        epochs += [
            f"| {e} | {st} | {lr:.0e} | {tr:.4e} | {va:.4e} | {sec:.0f} |"
            for e, st, lr, tr, va, sec in zip(
                h["epoch"], h["steps"], h["lr"], h["train_loss"], h["val_loss"], h["seconds"]
            )
        ] + [""]
    return line, epochs


def hybrid_line(last: pathlib.Path, now: float) -> tuple[str, list[str]]:
    """The line of a hybrid PINN run (no table)."""
    p = Trainer.progress(str(last))
    errors = "" if p["rel_l2"] is None else ", rel. L2 " + " ".join(f"{e:.3g}" for e in p["rel_l2"])
    per = p["seconds_per_iteration"]
    return (
        f"hybrid   {last.parent.name}: iteration {p['iterations']}/{p['planned']}{errors}, "
        f"{0 if per is None else 1 / per:.1f} it/s, "
        + where(p["planned"] - p["iterations"], per, p["written"], now)
    ), []


if __name__ == "__main__":
    sys.exit(run("status", main, serial=True))
