"""contention: does an encode stay fast when it shares the CPUs?

In one run, with the `nfc` command exactly as users run it (a subprocess each):
  (a) two default encodes of the sample, one after the other (each one's time is the quiet time);
  (b) the same two encodes at the same time;
  (c) one encode beside a CPU-bound process that is not nfc (numpy on 2 threads);
  and, with --with-spinning, one quiet encode and (b) again with libgomp's default spin-wait
  restored (GOMP_SPINCOUNT=300000): the behaviour before nfcodec.threads chose the wait
  policy, and what the policy costs on a quiet machine.
Targets (issue 11): (b) <= 1.15x the wall time of (a); the encode in (c) <= 2.3x its quiet
time; the files of (a), (b) and (c) identical.

    python benchmarks/contention.py --with-spinning
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, write_json  # noqa: E402

SAMPLE = REPO / "samples" / "kodim23.png"
SPINNING = {"GOMP_SPINCOUNT": "300000"}  # libgomp's own default when nothing is set

# The CPU-bound neighbour: numpy ufuncs release the GIL, so its 2 threads keep 2 cores busy.
HOG = """
import sys, threading, time
import numpy as np
stop = time.time() + float(sys.argv[1])
def work():
    a = np.random.default_rng(0).random(1 << 18)
    while time.time() < stop and not done.is_set():
        np.sin(a, out=a); a += 1.0
done = threading.Event()
threads = [threading.Thread(target=work) for _ in range(2)]
[t.start() for t in threads]
try:
    sys.stdin.read()  # until the benchmark closes our stdin
finally:
    done.set(); [t.join() for t in threads]
"""


def encode_cmd(source: Path, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "nfcodec", "encode", str(source), "-o", str(out), "-q", *extra]


def run_encodes(source: Path, outs: list[Path], extra: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Start one encode per output at the same moment; wall time to the last one's end."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    procs = [subprocess.Popen(encode_cmd(source, out, extra), env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for out in outs]
    ends = []
    for proc in procs:
        _, err = proc.communicate()
        ends.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"encode failed ({proc.returncode}): {err.decode(errors='replace').strip()}")
    return {"wall_s": max(ends), "each_s": ends}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure(source: Path, work: Path, extra: list[str], with_spinning: bool) -> dict[str, Any]:
    run_encodes(source, [work / "warmup.nff"], extra)  # numba's compile cache, page cache
    a1 = run_encodes(source, [work / "a1.nff"], extra)
    a2 = run_encodes(source, [work / "a2.nff"], extra)
    quiet = (a1["wall_s"] + a2["wall_s"]) / 2
    spinning_quiet = run_encodes(source, [work / "q.nff"], extra, SPINNING) if with_spinning else None
    b = run_encodes(source, [work / "b1.nff", work / "b2.nff"], extra)
    hog = subprocess.Popen([sys.executable, "-c", HOG, "3600"], stdin=subprocess.PIPE)
    try:
        time.sleep(1.0)  # the neighbour is at full speed before the encode starts
        c = run_encodes(source, [work / "c.nff"], extra)
    finally:
        hog.stdin.close()
        hog.wait(timeout=30)
    rows = {
        "a_sequential": {"wall_s": a1["wall_s"] + a2["wall_s"], "each_s": [a1["wall_s"], a2["wall_s"]]},
        "b_concurrent": b,
        "c_beside_cpu_hog": c,
    }
    if with_spinning:
        rows["quiet_spinning"] = spinning_quiet
        rows["b_concurrent_spinning"] = run_encodes(source, [work / "s1.nff", work / "s2.nff"], extra, SPINNING)
    files = {name: sha256(work / name) for name in ("a1.nff", "a2.nff", "b1.nff", "b2.nff", "c.nff")}
    return {
        "quiet_encode_s": quiet,
        "runs": rows,
        "ratios": {
            "b_over_a": b["wall_s"] / rows["a_sequential"]["wall_s"],
            "c_over_quiet": c["wall_s"] / quiet,
            **({"b_spinning_over_a": rows["b_concurrent_spinning"]["wall_s"] / rows["a_sequential"]["wall_s"],
                "quiet_over_quiet_spinning": quiet / spinning_quiet["wall_s"]} if with_spinning else {}),
        },
        "files_sha256": files,
        "files_identical": len(set(files.values())) == 1,
    }


def report(result: dict[str, Any]) -> str:
    r, ratios = result["runs"], result["ratios"]
    rows = [
        ["(a) two encodes, one after the other", f"{r['a_sequential']['wall_s']:.1f}", "1.00", "-"],
        ["(b) the same two at the same time", f"{r['b_concurrent']['wall_s']:.1f}", f"{ratios['b_over_a']:.2f}", "<= 1.15"],
        ["(c) one encode beside 2 busy numpy threads", f"{r['c_beside_cpu_hog']['wall_s']:.1f}",
         f"{ratios['c_over_quiet']:.2f} x quiet", "<= 2.3 x quiet"],
    ]
    if "b_concurrent_spinning" in r:
        rows.append(["one quiet encode, libgomp's default spin-wait", f"{r['quiet_spinning']['wall_s']:.1f}",
                     f"ours / this: {ratios['quiet_over_quiet_spinning']:.2f}", "(quiet cost of sleeping)"])
        rows.append(["(b) with libgomp's default spin-wait", f"{r['b_concurrent_spinning']['wall_s']:.1f}",
                     f"{ratios['b_spinning_over_a']:.2f}", "(before)"])
    table = markdown_table(["run", "wall s", "ratio", "target"], rows)
    return f"{table}\n\nquiet encode {result['quiet_encode_s']:.1f} s; files of (a), (b), (c) identical: {result['files_identical']}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path, default=SAMPLE, help="image to encode [default: the bundled sample]")
    ap.add_argument("--encode-args", default="", help="extra `nfc encode` options, space-separated (e.g. '--steps 20')")
    ap.add_argument("--with-spinning", action="store_true", help="also run (b) with libgomp's default spin-wait")
    ap.add_argument("--json-out", type=Path, default=RESULTS / "contention.json")
    args = ap.parse_args(argv)
    extra = args.encode_args.split()
    with tempfile.TemporaryDirectory(prefix="nfc-contention-") as tmp:
        result = measure(args.input, Path(tmp), extra, args.with_spinning)
    result = {"meta": run_metadata(sys.argv[1:] if argv is None else argv), "input": str(args.input), "encode_args": extra, **result}
    print(report(result))
    write_json(args.json_out, result)
    return result


if __name__ == "__main__":
    main()
