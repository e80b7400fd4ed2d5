#!/bin/bash
# Issue 31: every paper-004 dataset at paper size, one after another on one core, niced
# (demos/results/long_runs.md). paper004-low-large was made with the petsc backend (2026-12-06,
# before the condensed one existed; resumed with it), the others with the condensed backend; the
# small sets are the first 300 samples of the large ones (--reuse). Resumable: run it again after
# a kill; a finished preset says "nothing to do".
#   env/long-runs/paper004-generate.sh $NH_STATE/src/<clone> > $NH_STATE/logs/queue-gen.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}"
S=${NH_STATE:-/var/cache/numhom-state}
while pgrep -f "generate.py --preset paper004-low-large" >/dev/null; do sleep 30; done  # one writer
gen() { env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/generate.py --no-progress "$@"; }
gen --preset paper004-low-large >> $S/logs/gen-paper004-low-large.log 2>&1 || exit 1
for c in low moderate high; do
  if [ $c != low ]; then
    gen --preset paper004-$c-large --backend condensed >> $S/logs/gen-paper004-$c-large.log 2>&1 || exit 1
  fi
  gen --preset paper004-$c-small --reuse $S/data/paper004-$c-large.h5 >> $S/logs/gen-paper004-$c-small.log 2>&1 || exit 1
done
for c in low moderate high; do
  gen --preset paper004-hierarchical-$c --backend condensed >> $S/logs/gen-paper004-hierarchical-$c.log 2>&1 || exit 1
done
