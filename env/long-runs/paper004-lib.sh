# Issue 31: what the two paper-004 queues (paper004-core1.sh, paper004-core2.sh) share; sourced
# by them with the code folder (a clone of main under $NH_STATE/src) as the working directory.
S=${NH_STATE:-/var/cache/numhom-state}
# A dataset at paper size (the condensed backend); a small set is the first 300 samples of its
# large one (--reuse). A finished preset says "nothing to do".
gen() {
  local preset=$1; shift
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/generate.py --no-progress \
    --preset "$preset" "$@" >> "$S/logs/gen-$preset.log" 2>&1
}
lognormal() {  # both sets of one contrast
  gen "paper004-$1-large" --backend condensed &&
    gen "paper004-$1-small" --reuse "$S/data/paper004-$1-large.h5"
}
# One experiment (--experiments K [--sizes ...]), transfer from networks/paper000-plain; every
# run adds its row to $S/results/paper004-paper/table.json (locked updates, both queues).
exp() {
  local log=$1; shift
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
    --base-network networks/paper000-plain --statistics 50 --export "$S/export" \
    --out "$S/results/paper004-paper" "$@" >> "$S/logs/exp-paper004-$log.log" 2>&1
}
# One factor, the row sums: a hierarchical network's output projected (no training).
projected() {
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
    --experiments "$1" --project-output --base-network networks/paper000-plain --statistics 50 \
    --out "$S/results/paper004-paper-projected-hierarchical" \
    >> "$S/logs/exp-paper004-projected-$1.log" 2>&1
}
# The structure-preserving network (ours) on a large set, from networks/paper000-structured.
# "structured K" runs it; "either structured K" lets the first queue to come do it (the other
# goes on, or ends): a run that either core may take, whichever is free first.
structured() {
  env -u OPENBLAS_CORETYPE nice -n 10 ./run python3 demos/paper004_experiments.py --preset paper \
    --experiments "$1" --sizes large --structured --base-network networks/paper000-structured \
    --statistics 50 --export "$S/export" --out "$S/results/paper004-paper-structured" \
    >> "$S/logs/exp-paper004-structured-$1.log" 2>&1
}
either() {
  mkdir -p "$S/locks"
  (flock -n 9 || exit 0; "$@") 9> "$S/locks/$(echo "$*" | tr ' ' '-').lock"
}
