#!/bin/bash
# Issue 31: start (or resume) both paper-004 queues (paper004-core1.sh, paper004-core2.sh) from a
# clone of this checkout, first thing in a session. Each queue resumes where the last session
# left it; one already running is left alone. In an empty state the committed rows
# (demos/results/paper004_paper/table.json) are put back first, so that the table keeps them.
#   env/long-runs/paper004-start.sh
set -e
cd "$(dirname "$0")/../.."
S=${NH_STATE:-/var/cache/numhom-state}
mkdir -p "$S/src" "$S/logs"
clone="$S/src/run-$(git rev-parse --short HEAD)"
[ -d "$clone" ] || git clone -q . "$clone"
table="$S/results/paper004-paper/table.json"
if [ ! -f "$table" ]; then
  mkdir -p "$(dirname "$table")" && cp demos/results/paper004_paper/table.json "$table"
fi
pgrep -f "long-runs/load-log.sh" >/dev/null ||
  setsid nohup env/long-runs/load-log.sh > /dev/null 2>&1 < /dev/null &
for queue in core1 core2; do
  if pgrep -f "paper004-$queue.sh" >/dev/null; then
    echo "paper004-$queue.sh is running already: left alone"
  else
    # the clone's own queue script: bash reads a script as it runs, so an edit of the work tree
    # must not reach a running queue
    setsid nohup "$clone/env/long-runs/paper004-$queue.sh" "$clone" \
      >> "$S/logs/queue-$queue.log" 2>&1 < /dev/null &
    echo "paper004-$queue.sh started from $clone (log $S/logs/queue-$queue.log)"
  fi
done
