"""Thread pools sized from the CPUs a process may use, and idle threads that sleep (issue 11)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nfcodec.errors import UsageError
from nfcodec.threads import SPIN_COUNT, available_cpus, cgroup_cpu_quota, resolve_threads


def _cgroup(tmp_path: Path, cpu_max: str) -> Path:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    return tmp_path


def test_cgroup_quota_caps_the_cpu_count(tmp_path: Path):
    assert cgroup_cpu_quota(_cgroup(tmp_path, "150000 100000")) == 1.5
    assert available_cpus(_cgroup(tmp_path, "100000 100000")) == 1
    assert cgroup_cpu_quota(_cgroup(tmp_path, "max 100000")) is None
    assert available_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_cgroup_v1_quota(tmp_path: Path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 0.5
    assert available_cpus(tmp_path) == 1  # never below one thread


def test_thread_count_precedence():
    assert resolve_threads(3, {"NFC_THREADS": "2"}).threads == 3
    env = resolve_threads(None, {"NFC_THREADS": "2", "OMP_NUM_THREADS": "5"})
    assert (env.threads, env.source) == (2, "environment")
    assert resolve_threads(None, {"OMP_NUM_THREADS": "5"}).threads == 5
    machine = resolve_threads(None, {})
    assert machine.source == "machine" and machine.threads == available_cpus()
    with pytest.raises(UsageError, match="NFC_THREADS"):
        resolve_threads(None, {"NFC_THREADS": "two"})
    with pytest.raises(UsageError):
        resolve_threads(0, {})


PROBE = """
import json, os, sys
from nfcodec.threads import configure_threads
configure_threads(int(sys.argv[1]))
import numba, numpy as np, torch
@numba.njit(parallel=True)
def total(a):
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i]
    return s
total(np.ones(1000))
print(json.dumps({"torch": torch.get_num_threads(), "numba": numba.get_num_threads(), "layer": numba.threading_layer(),
                  "spin": os.environ.get("GOMP_SPINCOUNT"), "omp": os.environ.get("OMP_NUM_THREADS")}))
"""


def test_settings_reach_torch_numba_and_openmp():
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_NUM_THREADS", "NFC_THREADS", "NUMBA_THREADING_LAYER")}
    out = subprocess.run([sys.executable, "-c", PROBE, "1"], env=env, capture_output=True, text=True, check=True).stdout
    applied = json.loads(out)
    assert applied["torch"] == 1 and applied["numba"] == 1 and applied["omp"] == "1"
    assert applied["spin"] == SPIN_COUNT  # idle OpenMP threads sleep after a short spin
    assert applied["layer"] in ("omp", "tbb")  # the layers that follow a wait policy, chosen on purpose


def test_the_command_sets_the_wait_policy_before_torch_loads():
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    code = "import os, sys, nfcodec.cli; print('torch' in sys.modules, 'numba' in sys.modules, os.environ['GOMP_SPINCOUNT'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", SPIN_COUNT]


def test_encode_threads_option_is_applied_and_reported(small_png: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "NFC_THREADS"}
    cmd = [sys.executable, "-m", "nfcodec", "encode", str(small_png), "-o", str(tmp_path / "t.nff"),
           "--widths", "3,6", "--steps", "3", "-q", "--json", "--threads", "1"]
    obj = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout)
    assert obj["threads"] == {"threads": 1, "source": "option", "cpus_available": available_cpus()}
    env["NFC_THREADS"] = "nope"
    bad = subprocess.run(cmd[:-2], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "NFC_THREADS" in bad.stderr
