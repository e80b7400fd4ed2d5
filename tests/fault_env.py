"""Run a command with a tmpfs mounted at a folder: read-only, or with a size limit (a full disk).

    python3 tests/fault_env.py DIR (ro | SIZE) -- command ...

Uses a private mount namespace (root, Linux), so nothing outside this process tree sees the
mount. Exit status 77 when the namespace or the mount is not permitted here (tests then skip).
"""

import ctypes
import os
import subprocess
import sys

MS_RDONLY, MS_REC, MS_PRIVATE = 1, 16384, 1 << 18


def main() -> int:
    folder, mode, sep, *command = sys.argv[1:]
    assert sep == "--" and command
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        os.unshare(os.CLONE_NEWNS)
    except (AttributeError, OSError):
        return 77
    # Keep the mount to ourselves; in a chroot "/" is no mount point and this fails harmlessly
    # (the launcher's own namespace is private already).
    libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    os.makedirs(folder, exist_ok=True)
    flags, options = (MS_RDONLY, b"size=1m") if mode == "ro" else (0, f"size={mode}".encode())
    if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", flags, options) != 0:
        return 77
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
