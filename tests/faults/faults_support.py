"""What the fault tests share: `nfc` in a subprocess (this checkout's code) under real faults
made by the kernel, not by mocks: a file size limit (writes past it fail with EFBIG), a folder
this process may not write (root without its permission override), a tiny or read-only tmpfs
in a private mount namespace (ENOSPC, EROFS)."""
from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]
TEMPORARY = re.compile(r"^\..+\.part(\.[A-Za-z0-9]+)?$")  # fsutil.atomic_write's temporaries
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def env() -> dict[str, str]:
    return dict(os.environ, NFC_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def nfc(*args: str, cwd: Path, preexec=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*NFC, *args], cwd=cwd, env=env(), preexec_fn=preexec, capture_output=True, text=True, timeout=timeout)


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if TEMPORARY.match(p.name))


def file_size_limit(nbytes: int):
    """A preexec_fn: files of this process may not grow past `nbytes` (a disk that fills up
    there). SIGXFSZ is ignored so that the write fails with EFBIG instead of killing nfc."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


def _drop_permission_override() -> None:
    """Root keeps its uid (so it can still run the interpreter under /root) but loses
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH at exec: file modes apply to it again."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def unprivileged(folder: Path, readable: Path):
    """A preexec_fn under which nfc can read `readable` but `folder` (mode 0555) refuses new
    files, or a skip."""
    candidates = [None] if os.geteuid() != 0 else [_drop_permission_override, _as_nobody]
    probe = "import sys; open(sys.argv[2], 'rb').read(1); print('read'); open(sys.argv[1] + '/probe', 'w')"
    for preexec in candidates:
        try:
            done = subprocess.run([sys.executable, "-c", probe, str(folder), str(readable)], preexec_fn=preexec, capture_output=True,
                                  text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.stdout.strip() == "read" and "PermissionError" in done.stderr:
            return preexec
        (folder / "probe").unlink(missing_ok=True)
    pytest.skip("cannot run a process that the folder's permissions bind")


# Runs inside `unshare --mount`: mounts a tmpfs on a folder, runs nfc, reports what is there
# (the mount, and what was written in it, vanish with the namespace).
_IN_NAMESPACE = """
import json, os, subprocess, sys
folder, options, previous, argv = sys.argv[1], sys.argv[2].split(","), sys.argv[3], json.loads(sys.argv[4])
writable = ",".join(o for o in options if o != "ro") or "size=1m"
subprocess.run(["mount", "-t", "tmpfs", "-o", writable, "tmpfs", folder], check=True)
if previous:
    name, data = previous.split("=", 1)
    with open(os.path.join(folder, name), "w") as fh:
        fh.write(data)
if "ro" in options:
    subprocess.run(["mount", "-o", "remount,ro", folder], check=True)
done = subprocess.run(argv, capture_output=True, text=True)
files = {n: open(os.path.join(folder, n), "rb").read().decode("latin-1") for n in os.listdir(folder)}
print(json.dumps({"rc": done.returncode, "stderr": done.stderr, "files": files}))
"""


def tmpfs_available(folder: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    try:
        done = subprocess.run(["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def in_tmpfs(folder: Path, options: str, args: list[str], cwd: Path, previous: tuple[str, str] | None = None) -> dict:
    """Run `nfc ARGS` with a tmpfs (`options`: size=16k, ro, ...) mounted on `folder` in a
    private mount namespace; `previous` (name, text) is put there first. Returns the exit
    status, stderr and the folder's files (name -> content) as the command left them."""
    if not tmpfs_available(folder):
        pytest.skip("no private mount namespace with a tmpfs here (needs root and unshare)")
    keep = "=".join(previous) if previous else ""
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", _IN_NAMESPACE, str(folder), options, keep,
                           json.dumps([*NFC, *args])], cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
