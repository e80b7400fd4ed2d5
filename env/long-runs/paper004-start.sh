#!/bin/bash
# Issue 31: start (or resume) every paper-004 queue from a clone of this checkout, first thing in
# a session: the datasets (paper004-generate.sh) and the first core's experiments
# (paper004-experiments.sh) at once, the second core's (paper004-second-core.sh) waiting for the
# datasets. Each queue resumes where the last session left it; one already running is left alone.
#   env/long-runs/paper004-start.sh
set -e
cd "$(dirname "$0")/../.."
S=${NH_STATE:-/var/cache/numhom-state}
mkdir -p "$S/src" "$S/logs"
clone="$S/src/run-$(git rev-parse --short HEAD)"
[ -d "$clone" ] || git clone -q . "$clone"
for queue in generate experiments second-core; do
  if pgrep -f "paper004-$queue.sh" >/dev/null; then
    echo "paper004-$queue.sh is running already: left alone"
  else
    setsid nohup "env/long-runs/paper004-$queue.sh" "$clone" >> "$S/logs/queue-$queue.log" 2>&1 < /dev/null &
    echo "paper004-$queue.sh started from $clone (log $S/logs/queue-$queue.log)"
  fi
done
