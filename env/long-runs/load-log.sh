#!/bin/bash
# Issue 31: the machine's load beside the long runs' timings. Every 5 minutes one line,
#   <UTC time> <1-, 5-, 15-minute load> <CPU model>
# appended to $NH_STATE/logs/load.log; demos/status.py summarises it. Started by
# paper004-start.sh (one logger per machine).
S=${NH_STATE:-/var/cache/numhom-state}
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1 | tr ' ' '_')
while true; do
  read -r l1 l5 l15 _ < /proc/loadavg
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $l1 $l5 $l15 ${cpu:-unknown}" >> "$S/logs/load.log"
  sleep 300
done
