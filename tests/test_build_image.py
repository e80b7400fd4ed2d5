"""env/build-image.sh on hosts where podman's runtime fails (issue 35, item 4): with cgroup v1 or
hybrid cgroups it prints the ways round it instead of crun's error; behind a TLS-inspecting proxy
``--ca-cert`` puts the proxy's CA into the build. The engines are stand-in scripts: no image is
built."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "env" / "build-image.sh"


def _engine(tmp_path: Path, name: str, build: str = "exit 0", run: str = "exit 0") -> Path:
    """A stand-in ``podman`` or ``docker`` that logs its calls to ``calls.log``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / name
    stub.write_text(
        "#!/bin/bash\n"
        f'echo "$*" >> {tmp_path}/calls.log\n'
        "case $1 in\n  info) exit 0 ;;\n"
        f"  build) {build} ;;\n  run) {run} ;;\nesac\n"
    )
    stub.chmod(0o755)
    return bin_dir


def _cgroups(tmp_path: Path, kind: str) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir()
    if kind == "hybrid":
        (root / "unified").mkdir()
    return root


def _run(tmp_path, bin_dir, cgroup_root, *args, **env):
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    environ.pop("BUILDAH_ISOLATION", None)
    environ.update(NH_CGROUP_ROOT=str(cgroup_root), **env)
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=environ, timeout=60
    )


def _calls(tmp_path) -> str:
    log = tmp_path / "calls.log"
    return log.read_text() if log.exists() else ""


def test_podman_on_hybrid_cgroups_prints_the_fixes_before_building(tmp_path):
    bin_dir = _engine(tmp_path, "podman", build="echo 'crun: cgroups in hybrid mode' >&2; exit 1")
    out = _run(tmp_path, bin_dir, _cgroups(tmp_path, "hybrid"), NH_ENGINE="podman")
    assert out.returncode == 70
    assert "hybrid cgroups" in out.stderr
    for fix in ("BUILDAH_ISOLATION=chroot env/build-image.sh", "NH_ENGINE=docker", "buildah run"):
        assert fix in out.stderr, fix
    assert "build" not in _calls(tmp_path)  # nothing started that would end in crun's error


def test_chroot_isolation_builds_and_the_test_run_gets_the_buildah_route(tmp_path):
    bin_dir = _engine(tmp_path, "podman")
    out = _run(
        tmp_path, bin_dir, _cgroups(tmp_path, "v1"), "--test",
        NH_ENGINE="podman", BUILDAH_ISOLATION="chroot",
    )  # fmt: skip
    assert out.returncode == 70
    assert "build -t numhom ." in _calls(tmp_path)
    assert "run " not in _calls(tmp_path)
    assert "setrlimit" in out.stderr and "buildah run --isolation chroot" in out.stderr
    assert "unshare --net" in out.stderr


def test_a_runtime_failure_of_another_engine_is_explained(tmp_path):
    """Docker with a runtime that fails the same way: its error is shown, then the fixes."""
    bin_dir = _engine(
        tmp_path,
        "docker",
        run="echo 'crun: setrlimit RLIMIT_NOFILE: Operation not permitted' >&2; exit 126",
    )
    out = _run(tmp_path, bin_dir, _cgroups(tmp_path, "hybrid"), "--test", NH_ENGINE="docker")
    assert out.returncode == 1
    assert "setrlimit RLIMIT_NOFILE" in out.stdout + out.stderr
    assert "buildah run" in out.stderr


def test_ca_cert_is_in_the_build_context_during_the_build_only(tmp_path):
    ca = tmp_path / "proxy.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n")
    seen = ROOT / "env" / "extra-ca" / "proxy-ca.crt"
    bin_dir = _engine(tmp_path, "docker", build=f"cp {seen} {tmp_path}/seen.crt")
    out = _run(
        tmp_path, bin_dir, _cgroups(tmp_path, "hybrid"), "--ca-cert", str(ca), NH_ENGINE="docker"
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "seen.crt").read_text() == ca.read_text()
    assert not seen.exists()
    dockerfile = (ROOT / "Dockerfile").read_text()
    copy, pip = dockerfile.index("COPY env/extra-ca/"), dockerfile.index("pip install")
    assert copy < dockerfile.index("apt-get install") < pip


def test_readme_docker_examples_keep_their_output():
    """The README's ``docker run`` lines mount the state folder, where the output goes
    ($NH_STATE/data), not a folder of the image that nothing writes to; and no test count is
    written into the README's prose."""
    readme = (ROOT / "README.md").read_text()
    assert "/opt/numhom/data" not in readme
    runs = [line for line in readme.splitlines() if line.lstrip("`").startswith("docker run ")]
    assert runs
    for line in runs:
        if "-v " in line:
            assert "-v /var/cache/numhom-state:/var/cache/numhom-state" in line, line
    assert "env/build-image.sh --ca-cert" in readme
    assert not re.search(r"\d+ passed", readme), "test counts belong to the test run's output"
