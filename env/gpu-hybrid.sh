#!/usr/bin/env bash
# Table 2 of the hybrid paper on one GPU machine (torch, NumPy, SciPy; no DOLFINx, PETSc or
# mpirun), in one call: a smoke run of seconds, then the runs (default: all six rows of Table 2,
# seeds 0 1 2, the paper's iteration counts) side by side as processes on the one GPU, the coarse
# problem and the fine reference with the SciPy solver (equal to the PETSc one to round-off).
# Every 30 s each run's checkpoint folder is packed into $OUT/<run>.tar and the logs into
# $OUT/logs.tar (one file per run keeps each under the 16 MiB a returned file may have), so a
# call killed at its limit still returns every run up to its last checkpoint (1000 iterations).
# At DEADLINE seconds (540) the runs are stopped and packed a last time: runs that did not
# finish are continued on the CPU (below).
#
#   $OUT/smoke.log           the smoke run's last lines (iterations/s on this device)
#   $OUT/gpu.txt             nvidia-smi's name and memory line
#   $OUT/<run>.tar           checkpoints/<run>/last.pt (at most five runs: 8 files come back)
#   $OUT/logs.tar            the runs' logs and any tables and figures of finished runs
#
# Environment: RUNS ("16 pinn,16 hybrid,48 pinn,48 hybrid,64 pinn,64 hybrid"; a row may carry its
# own demo options after the method, e.g. "64 pinn --features 400"), ITERATIONS (the
# paper's counts when unset), DEVICE (cuda), SMOKE_ITERATIONS (200), PACK_EVERY (30 s), WORK
# (the work folder, results/hybrid/gpu), EXTRA (more demo options for every row, e.g.
# "--features 400"; the same options must then be given to the demo on the CPU machine).
#
# Then, on a CPU machine with the project's environment (continues any run that did not finish;
# finished ones only write their tables and figures):
#   mkdir -p results/hybrid/gpu && for t in <files_at>/*.tar; do tar -xf $t -C results/hybrid/gpu; done
#   nice -n 10 ./run python3 demos/hybrid_pinn_1d.py --preset paper --eps 64 --methods pinn hybrid \
#       --skip-table-1 --checkpoint-root results/hybrid/gpu/checkpoints --output-dir results/hybrid/gpu
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${OUT:?set OUT to the folder that comes back}"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-16 pinn,16 hybrid,48 pinn,48 hybrid,64 pinn,64 hybrid}
work=${WORK:-results/hybrid/gpu}
mkdir -p "$work/checkpoints"
iterations=()
[ -n "${ITERATIONS:-}" ] && iterations=(--iterations "$ITERATIONS")
extra=()
[ -n "${EXTRA:-}" ] && read -ra extra <<<"$EXTRA"

pack() {  # written beside $OUT, then moved in whole
  local run
  for run in "$work"/checkpoints/*/; do
    run=$(basename "$run")
    # without the run's lock file (the PID of a process on that machine)
    tar -cf "/tmp/$run.tar" --exclude=.lock -C "$work" "checkpoints/$run" 2>/dev/null &&
      mv "/tmp/$run.tar" "$OUT/"
  done
  tar -cf /tmp/logs.tar -C "$work" --exclude=./smoke --exclude=./checkpoints . 2>/dev/null &&
    mv /tmp/logs.tar "$OUT/"
}

(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi") \
  >"$OUT/gpu.txt" 2>&1
python3 demos/hybrid_pinn_1d.py --preset quick --iterations "${SMOKE_ITERATIONS:-200}" \
  --methods pinn hybrid --skip-table-1 --solver scipy --device "$DEVICE" \
  --checkpoint-root "$work/smoke" --output-dir "$work/smoke" >"$OUT/smoke.log" 2>&1 || {
  tail -n 5 "$OUT/smoke.log"
  exit 1
}
tail -n 3 "$OUT/smoke.log"

IFS=, read -ra rows <<<"$RUNS"
pids=()
for row in "${rows[@]}"; do
  read -ra words <<<"$row"
  eps=${words[0]} method=${words[1]} own=("${words[@]:2}")
  tag=$(IFS=_; echo "${words[*]}" | tr -d -- '-')
  python3 demos/hybrid_pinn_1d.py --preset paper --eps "$eps" --methods "$method" \
    --skip-table-1 --solver scipy --device "$DEVICE" "${iterations[@]}" "${extra[@]}" "${own[@]}" \
    --checkpoint-root "$work/checkpoints" --output-dir "$work" >"$work/table2_${tag}.log" 2>&1 &
  pids+=($!)
done
start=$SECONDS
while [ -n "$(jobs -rp)" ]; do
  sleep "${PACK_EVERY:-30}"
  if ((SECONDS - start > ${DEADLINE:-540})); then
    echo "deadline: stopping the runs; continue them on the CPU"
    kill "${pids[@]}" 2>/dev/null
    sleep 2
  fi
  pack
  tail -qn 1 "$work"/table2_*.log
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
pack
grep -h "^| 1/" "$work"/table2_*.log
exit $failed
