#!/bin/bash
# Issue 31, first core (niced, resumable: run it again after a kill; trained networks are kept,
# a training resumes from its last checkpoint bit for bit, finished rows are skipped):
# the high-contrast sets, Exp. 3 on both, 3-H from Exp. 3's large-set network, then the
# structure-preserving network on the high- and low-contrast large sets; between them one
# factor of Sec. 5.7's statement (the validation loss stalls while the training loss falls,
# which did not hold at the 30-epoch cap): the small high-contrast set again with a cap of 60
# epochs, all else as in Exp. 3 (its first 30 epochs are those of exp3-small).
#   env/long-runs/paper004-core1.sh $NH_STATE/src/<clone> >> $NH_STATE/logs/queue-core1.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}" || exit 1
source env/long-runs/paper004-lib.sh
lognormal high || exit 1
exp 3 --experiments 3 --sizes small large || exit 1
gen paper004-hierarchical-high --backend condensed || exit 1
exp 3H --experiments 3H || exit 1
projected 3H || exit 1
structured 3 || exit 1
# The cap is the one factor: the 30-epoch run's epochs are this run's first 30 (a run goes on
# bit-identically when its cap grows, wherever its folder lies: tests/test_nn_training.py), so
# the folder starts as a copy of that run, without its test_loss.json.
cap60="$S/checkpoints/paper004-high-small-cap60"
if [ ! -e "$cap60/last.pt" ]; then
  mkdir -p "$cap60" &&
    cp "$S"/checkpoints/paper004-high-small-from-paper000-plain/{last.pt,best.pt} "$cap60/" ||
    exit 1
fi
env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/train.py --dataset paper004-high-small \
  --schedule paper004 --epochs 60 --init-from networks/paper000-plain \
  --checkpoint-dir "$S/checkpoints/paper004-high-small-cap60" \
  >> "$S/logs/train-paper004-high-small-cap60.log" 2>&1 || exit 1
until grep -qE "generate: (done|nothing to do)" "$S/logs/gen-paper004-low-large.log" 2>/dev/null
do sleep 60; done  # core 2 makes that dataset
structured 1 || exit 1
either structured 2
