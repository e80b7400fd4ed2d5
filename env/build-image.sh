#!/usr/bin/env bash
# Build the project's container image from env/debian-packages.txt (via the Dockerfile) with
# podman or docker, whichever is installed, and optionally run the test suite inside it.
#
#   env/build-image.sh            # build the image "numhom"
#   env/build-image.sh --test     # build, then run ./run test inside the image, without network
#   NH_IMAGE=myname env/build-image.sh
#
# The build context is the repository without data/, checkpoints/, results/ and .git
# (.dockerignore), so the image stays small whatever the work tree holds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image=${NH_IMAGE:-numhom}
engine=""
for candidate in podman docker; do
  if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then engine=$candidate; break; fi
done
[ -n "$engine" ] || { echo "build-image: neither podman nor docker with a running engine was found" >&2; exit 70; }
echo "build-image: $engine build -t $image ." >&2
"$engine" build -t "$image" .
if [ "${1:-}" = --test ]; then
  # No network: everything the tests need (ruff included) must already be in the image.
  "$engine" run --rm --network none "$image" ./run test
fi
