#!/bin/bash
# Issue 31: may the paper-004 networks ship as float16? One network (exp2-large), two
# comparisons, each against the same network in float32 (its own --threads, one BLAS thread):
#   demos/results/paper004_paper/float16-exp2-large.md            the rows as trained and shipped
#   demos/results/paper004_paper/float16-exp2-large-projected.md  both outputs projected onto zero
#                                                                 row and column sums (one factor)
#   demos/results/paper004_paper/float16/*.json                   the rows they compare
# Needs the exp2-large training state under $NH_STATE; the float16 export goes to
# $NH_STATE/export-float16 (nothing is trained). Run in the work tree, niced, one core.
set -e
cd "$(dirname "$0")/../.."
S=${NH_STATE:-/var/cache/numhom-state}
D=demos/results/paper004_paper
exp() {
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
    --experiments 2 --sizes large --statistics 50 "$@"
}
compare() {
  ./run python3 demos/compare_results.py "$S/results/$1/table.json" "$S/results/$2/table.json" \
    --tolerance 0.01 --out "$D/$3.md"
}
exp --base-network networks/paper000-plain --export "$S/export-float16" --export-dtype float16 \
  --out "$S/results/paper004-paper"  # the row is there already: the export only
exp --networks "$S/export-float16" --recompute --out "$S/results/paper004-float16-exp2-large"
compare paper004-paper paper004-float16-exp2-large float16-exp2-large
for dtype in float16 float32; do
  folder=$S/export-float16
  [ "$dtype" = float32 ] && folder=networks
  exp --networks "$folder" --project-output --recompute \
    --out "$S/results/paper004-$dtype-exp2-large-projected"
done
compare paper004-float32-exp2-large-projected paper004-float16-exp2-large-projected \
  float16-exp2-large-projected
mkdir -p "$D/float16"  # the three rows beside the tables (13 kB each)
for run in float16-exp2-large float16-exp2-large-projected float32-exp2-large-projected; do
  cp "$S/results/paper004-$run/table.json" "$D/float16/$run.json"
done
