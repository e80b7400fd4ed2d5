#!/bin/bash
# Issue 31, first core: Exps. 1 and 3 (small and large set of each contrast, transfer from
# networks/paper000-plain, schedules paper004 / paper004-large), then 1-H-3-H (each from the
# large-set network of its contrast, so 2-H waits for Exp. 2 of paper004-second-core.sh), each
# as soon as its datasets are complete (the logs of env/long-runs/paper004-generate.sh say so);
# niced. Both cores add their rows to one table.json (locked updates). Resumable: run it again
# after a kill (trained networks are kept, a training resumes from its last checkpoint, bit for
# bit).
#   env/long-runs/paper004-experiments.sh $NH_STATE/src/<clone> > $NH_STATE/logs/queue-train.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}"
S=${NH_STATE:-/var/cache/numhom-state}
done_gen() { grep -qE "generate: (done|nothing to do)" "$S/logs/gen-$1.log" 2>/dev/null; }
has_row() { grep -q "\"$1\":" "$S/results/paper004-paper/table.json" 2>/dev/null; }
run_exp() {
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
    --experiments "$1" --base-network networks/paper000-plain --statistics 50 \
    --out $S/results/paper004-paper >> $S/logs/exp-paper004-$1.log 2>&1
}
for e in 1:low 3:high; do
  until done_gen paper004-${e#*:}-small; do sleep 60; done
  run_exp ${e%%:*} || exit 1
done
for e in 1H:low 2H:moderate 3H:high; do
  until done_gen paper004-hierarchical-${e#*:}; do sleep 60; done
  until has_row exp${e:0:1}-large; do sleep 60; done  # the network it starts from
  run_exp ${e%%:*} || exit 1
done
