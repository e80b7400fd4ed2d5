#!/bin/bash
# Issue 31, second core, once paper004-generate.sh has made every dataset: Exp. 2 (moderate
# contrast, small and large set, as in paper004-experiments.sh), then the structure-preserving
# network (ours) on the three large lognormal sets, transfer from networks/paper000-structured,
# with the same schedules, held-out statistics and fresh coefficients. Niced; resumable.
#   env/long-runs/paper004-second-core.sh $NH_STATE/src/<clone> > $NH_STATE/logs/queue-second.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}"
S=${NH_STATE:-/var/cache/numhom-state}
done_gen() { grep -qE "generate: (done|nothing to do)" "$S/logs/gen-$1.log" 2>/dev/null; }
until done_gen paper004-hierarchical-high; do sleep 60; done
exp() { env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper "$@"; }
exp --experiments 2 --base-network networks/paper000-plain --statistics 50 \
  --out $S/results/paper004-paper >> $S/logs/exp-paper004-2.log 2>&1 || exit 1
exp --experiments 1 2 3 --sizes large --structured --base-network networks/paper000-structured \
  --statistics 50 --out $S/results/paper004-paper-structured >> $S/logs/exp-paper004-structured.log 2>&1
