#!/usr/bin/env bash
# The whole test suite: serially, then the tests marked `mpi` on 2 ranks (pytest-mpi).
# Extra arguments go to both pytest runs. Exits non-zero when either run fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ranks=${NH_TEST_RANKS:-2}

# Lint with the ruff pinned in env/debian-packages.txt ('# pip:' line). It was installed when the
# environment was built: the tests never reach for a package index, so they run offline.
ruff_version=$(sed -n 's/^# pip: *ruff==\([^ ]*\).*/\1/p' env/debian-packages.txt)
found=$(ruff --version 2>/dev/null) || found="no ruff"
if [ "$found" != "ruff $ruff_version" ]; then
  echo "== lint: FAILED: ruff $ruff_version not installed (found: $found); it comes with the environment, rebuild that: image: env/build-image.sh; ./run: remove its rootfs-* under ${NH_ENV_CACHE:-/var/cache/numhom-env}, then ./run true; conda: pip install ruff==$ruff_version"
  lint=1
else
  echo "== lint: ruff check . && ruff format --check ."
  ruff check . && ruff format --check .
  lint=$?
fi

echo "== serial: python3 -m pytest $*"
python3 -m pytest "$@"
serial=$?

echo "== MPI: mpirun -n $ranks python3 -m pytest --with-mpi -m mpi $*"
logs=$(mktemp -d)
color=no; [ -t 1 ] && color=yes
# Rank 0 reports; the other ranks' reports are kept and shown only if a rank fails.
timeout 1800 mpirun -n "$ranks" bash -c '
  if [ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ]; then exec python3 -m pytest --with-mpi -m mpi --color='"$color"' "$@"; fi
  exec python3 -m pytest --with-mpi -m mpi -q -p no:cacheprovider "$@" >"'"$logs"'/rank-$OMPI_COMM_WORLD_RANK.log" 2>&1
' pytest-mpi "$@"
mpi=$?
[ "$mpi" = 5 ] && mpi=0  # no MPI tests selected is not a failure
if [ "$mpi" != 0 ]; then
  for f in "$logs"/rank-*.log; do [ -e "$f" ] && { echo "-- $(basename "$f")"; tail -n 40 "$f"; }; done
fi
rm -rf "$logs"

echo "== lint exit $lint, serial exit $serial, MPI exit $mpi"
[ "$lint" = 0 ] && [ "$serial" = 0 ] && [ "$mpi" = 0 ]
