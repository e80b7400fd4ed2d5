#!/bin/bash
# Issue 31: ship the networks behind the headline rows (the three large lognormal sets and the
# three hierarchical sets: networks/paper004-{low,moderate,high}-large and
# networks/paper004-hierarchical-{low,moderate,high}) once their trainings are done, as float32:
# float16 weights moved the held-out relative L² errors of exp2-large by up to 36 %
# (demos/results/paper004_paper/float16-exp2-large.md), far beyond the 1 % allowed; six float32
# networks are 116 MiB.
#   1. export each trained network into networks/ (nothing is trained again; the rows in
#      $S/results/paper004-paper stand, so nothing is evaluated either);
#   2. the experiments again from those exports alone (--networks: the command a user runs),
#      into $S/results/paper004-$DTYPE, with the one BLAS thread of the training runs
#      (--threads 1): float32 exports reproduce the training rows bit for bit;
#   3. every error of every row against the rows of the training runs:
#      demos/results/paper004_paper/$DTYPE.md, which ends with whether every change stays
#      within 1 % (another storage: DTYPE=float16 env/long-runs/paper004-ship.sh)
# Run in the work tree (it writes into networks/ and demos/results/), niced, one core:
#   env/long-runs/paper004-ship.sh
# or a part of them, as their trainings finish (the rest keep the rows they had):
#   EXPERIMENTS="1 2 3 3H" env/long-runs/paper004-ship.sh
set -e
cd "$(dirname "$0")/../.."
S=${NH_STATE:-/var/cache/numhom-state}
dtype=${DTYPE:-float32}
read -r -a experiments <<< "${EXPERIMENTS:-1 2 3 1H 2H 3H}"
exp() { env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper "$@"; }
exp --experiments "${experiments[@]}" --sizes large --base-network networks/paper000-plain \
  --statistics 50 --export networks --export-dtype "$dtype" --out "$S/results/paper004-paper"
exp --experiments "${experiments[@]}" --sizes large --networks networks --statistics 50 \
  --recompute --out "$S/results/paper004-$dtype"  # the exports as they are now
./run python3 demos/compare_results.py "$S/results/paper004-paper/table.json" \
  "$S/results/paper004-$dtype/table.json" --tolerance 0.01 \
  --out "demos/results/paper004_paper/$dtype.md"
