#!/bin/bash
# Issue 31: the structure-preserving network (ours) on the three large lognormal sets, transfer
# from networks/paper000-structured, beside the plain networks of paper004-experiments.sh; the
# same schedules, held-out statistics and fresh coefficients. It waits until
# paper004-generate.sh has made every dataset, so that each core runs one job. Resumable.
#   env/long-runs/paper004-structured.sh $NH_STATE/src/<clone> > $NH_STATE/logs/queue-structured.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}"
S=${NH_STATE:-/var/cache/numhom-state}
done_gen() { grep -qE "generate: (done|nothing to do)" "$S/logs/gen-$1.log" 2>/dev/null; }
until done_gen paper004-hierarchical-high; do sleep 60; done
env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
  --experiments 1 2 3 --sizes large --structured --base-network networks/paper000-structured \
  --statistics 50 --out $S/results/paper004-paper-structured >> $S/logs/exp-paper004-structured.log 2>&1
