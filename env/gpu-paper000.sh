#!/usr/bin/env bash
# Paper 000 on one GPU machine (torch, NumPy, SciPy, h5py; no DOLFINx, PETSc or mpirun), in one
# call that writes everything worth keeping under $OUT (at most 8 files of at most 16 MiB):
#
#   $OUT/lod_gpu.json, lod_gpu.md           torch corrector backend: patches/s, peak GPU memory
#   $OUT/paper000/network/network-0{0,1}.pt the trained network (float32, 2 shards) ...
#   $OUT/paper000/network/network.json      ... its configuration, loss history and test loss
#   $OUT/paper000/timings.json              generation and training times
#   $OUT/nnlod_gpu.log                      the log
#
# Then, on a CPU machine with the project's environment:
#   ./run mpirun -n 2 python3 demos/paper000_experiments.py --preset paper --checkpoint <OUT>/paper000/network
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${OUT:?set OUT to the folder that comes back}"
python3 benchmarks/bench_lod.py --backends torch --device cuda --no-mpi --tag lod_gpu --repeats 3 \
  --note "one GPU, torch backend" 2>&1 | tail -n 12
cp benchmarks/lod_gpu.json benchmarks/lod_gpu.md "$OUT"/
python3 demos/nnlod_gpu.py --preset paper000 --out "$OUT/paper000" 2>&1 | tee "$OUT/nnlod_gpu.log"
