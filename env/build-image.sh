#!/usr/bin/env bash
# Build the project's container image from env/debian-packages.txt (via the Dockerfile) with
# podman or docker, whichever is installed, and optionally run the test suite inside it.
#
#   env/build-image.sh                        # build the image "numhom"
#   env/build-image.sh --test                 # build, then run ./run test inside it, no network
#   env/build-image.sh --ca-cert proxy.crt    # behind a TLS-inspecting proxy: trust its CA
#   NH_IMAGE=myname NH_ENGINE=docker env/build-image.sh
#
# The build context is the repository without data/, checkpoints/, results/ and .git
# (.dockerignore), so the image stays small whatever the work tree holds.
#
# Podman runs its containers under crun, which needs the unified cgroup hierarchy (cgroup v2).
# On a host with cgroup v1 or hybrid cgroups the build stops with "crun: cgroups in hybrid mode
# not supported" and `podman run` with a setrlimit error; this script says so up front and
# prints the ways round it (chroot isolation for the build, Docker, or buildah for the tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image=${NH_IMAGE:-numhom}
test=0 ca=""
while [ $# -gt 0 ]; do
  case $1 in
    --test) test=1 ;;
    --ca-cert) [ $# -ge 2 ] || { echo "build-image: --ca-cert needs a file" >&2; exit 2; }; ca=$2; shift ;;
    *) echo "build-image: unknown argument '$1' (--test, --ca-cert FILE)" >&2; exit 2 ;;
  esac
  shift
done

engine=${NH_ENGINE:-}
if [ -z "$engine" ]; then
  for candidate in podman docker; do
    if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then engine=$candidate; break; fi
  done
fi
[ -n "$engine" ] || { echo "build-image: neither podman nor docker with a running engine was found" >&2; exit 70; }

# cgroup2 (unified), hybrid (v1 controllers beside a unified tree) or v1, from /sys/fs/cgroup.
cgroup_root=${NH_CGROUP_ROOT:-/sys/fs/cgroup}
if [ "$(stat -fc %T "$cgroup_root" 2>/dev/null)" = cgroup2fs ]; then cgroups=v2
elif [ -d "$cgroup_root/unified" ]; then cgroups=hybrid
else cgroups=v1; fi

cgroup_fix() {  # what to do on a cgroup v1 / hybrid host, for the build or the test run
  echo "build-image: $engine's runtime (crun) needs cgroup v2; this host has $cgroups cgroups ($cgroup_root). Either:" >&2
  if [ "$1" = build ]; then
    echo "  - build with chroot isolation (no cgroups needed):  BUILDAH_ISOLATION=chroot env/build-image.sh" >&2
  fi
  local again=""; [ "$test" = 1 ] && again=" --test"
  echo "  - use Docker:  NH_ENGINE=docker env/build-image.sh$again" >&2
  echo "  - run the tests with buildah in a network namespace of their own (no podman run):" >&2
  echo "      ctr=\$(buildah from $image) && unshare --net -- sh -c 'ip link set lo up && buildah run --isolation chroot \"\$0\" -- ./run test' \"\$ctr\"; buildah rm \"\$ctr\"" >&2
  echo "  - or boot the host with cgroup v2 (kernel parameter systemd.unified_cgroup_hierarchy=1)" >&2
}
runtime_failure() {  # crun's and podman's words for the cgroup and setrlimit failures
  grep -qiE 'cgroups in hybrid mode not supported|cgroup.*(v1|not supported)|setrlimit' "$1"
}

# A proxy's CA goes into env/extra-ca/ (the Dockerfile copies that folder in before apt and pip
# run) for this build only.
if [ -n "$ca" ]; then
  [ -r "$ca" ] || { echo "build-image: --ca-cert: cannot read '$ca'" >&2; exit 2; }
  cp "$ca" env/extra-ca/proxy-ca.crt
fi

log=$(mktemp)
trap 'rm -f "$log"; rm -f env/extra-ca/proxy-ca.crt 2>/dev/null || true' EXIT
if [ "$engine" = podman ] && [ "$cgroups" != v2 ] && [ "${BUILDAH_ISOLATION:-}" != chroot ]; then
  cgroup_fix build
  exit 70
fi
echo "build-image: $engine build -t $image ." >&2
if ! "$engine" build -t "$image" . 2>&1 | tee "$log"; then
  if runtime_failure "$log"; then cgroup_fix build; fi
  exit 1
fi
if [ "$test" = 1 ]; then
  # No network: everything the tests need (ruff included) must already be in the image.
  if [ "$engine" = podman ] && [ "$cgroups" != v2 ]; then
    echo "build-image: built; podman run cannot start the tests here (it fails on setrlimit)" >&2
    cgroup_fix test
    exit 70
  fi
  if ! "$engine" run --rm --network none "$image" ./run test 2>&1 | tee "$log"; then
    if runtime_failure "$log"; then cgroup_fix test; fi
    exit 1
  fi
fi
