"""load (issue 16): many decodes at once and a batch of many files, memory held flat and
nothing lost.

1. Concurrent remote decodes: --waves waves of --concurrent decodes at once (threads of one
   process, `nfcodec.streaming.decode_url` against a loopback Range server), each of a random
   file and width; every result is checked against the local decode of the same bytes (SHA-256
   of the pixels). The process's RSS after each wave: growth from the first wave to the last
   is what a leak would show; the peak is what --concurrent decodes at once cost.
2. A batch of --files small images (`nfc batch`, 64x64 crops of the Kodak sample, 1 stage,
   few steps): every input reported ok and every file complete; the coordinator's peak RSS
   (sampled from /proc) against a batch of --files/10, so growth with the input count shows.

    python benchmarks/load.py                                # the committed run
    python benchmarks/load.py --concurrent 8 --waves 2 --files 50
"""
from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, markdown_table, run_metadata, setup_runtime, write_json  # noqa: E402
from streaming import Server  # noqa: E402

NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]
SAMPLE = REPO / "samples" / "kodim23.png"


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def crops(count: int, side: int) -> list[np.ndarray]:
    """`count` distinct crops of the Kodak sample (a seeded walk over it)."""
    import imageio.v3 as iio

    pixels = np.asarray(iio.imread(SAMPLE))
    rng = np.random.default_rng(0)
    rows = rng.integers(0, pixels.shape[0] - side, count)
    cols = rng.integers(0, pixels.shape[1] - side, count)
    return [pixels[r:r + side, c:c + side] for r, c in zip(rows, cols)]


def concurrent_decodes(folder: Path, files: int, concurrent: int, waves: int) -> dict[str, Any]:
    import imageio.v3 as iio

    from nfcodec.codec import EncodeConfig, decode_bytes, encode
    from nfcodec.streaming import decode_url

    names = []
    for i, image in enumerate(crops(files, 256)):
        iio.imwrite(folder / f"c{i}.png", image)
        encode(folder / f"c{i}.png", folder / f"c{i}.nff", EncodeConfig(stages=4, steps=20, transform="none"))
        names.append(f"c{i}.nff")
    expected = {(n, w): hashlib.sha256(decode_bytes((folder / n).read_bytes(), width=w).pixels.tobytes()).hexdigest()
                for n in names for w in range(1, 5)}
    server = Server(folder)
    rng = random.Random(0)
    rows, wrong, errors = [], 0, []
    try:
        with ThreadPoolExecutor(concurrent) as pool:
            for wave in range(1, waves + 1):
                jobs = [(rng.choice(names), rng.randint(1, 4)) for _ in range(concurrent)]
                start = time.perf_counter()
                futures = [pool.submit(decode_url, f"{server.base}/{n}", w) for n, w in jobs]
                for (n, w), future in zip(jobs, futures):
                    try:
                        result, _ = future.result()
                        wrong += hashlib.sha256(result.pixels.tobytes()).hexdigest() != expected[(n, w)]
                    except Exception as exc:  # counted and shown: the benchmark must report it, not stop
                        errors.append(f"{n} width {w}: {type(exc).__name__}: {exc}")
                rows.append({"wave": wave, "seconds": time.perf_counter() - start, "rss_mib": rss_mib()})
    finally:
        server.stop()
    return {"files": files, "concurrent": concurrent, "waves": rows, "decodes": concurrent * waves, "wrong": wrong, "errors": errors,
            "rss_growth_mib": rows[-1]["rss_mib"] - rows[0]["rss_mib"]}


def batch_peak(folder: Path, count: int, steps: int) -> dict[str, Any]:
    """`nfc batch` over `count` small images: the coordinator's peak RSS (sampled), outcome."""
    import json

    import imageio.v3 as iio

    inputs = folder / f"in{count}"
    inputs.mkdir()
    for i, image in enumerate(crops(count, 64)):
        iio.imwrite(inputs / f"i{i:05d}.png", image)
    out = folder / f"out{count}"
    start = time.perf_counter()
    process = subprocess.Popen([*NFC, "batch", str(inputs), "-o", str(out), "--stages", "1", "--steps", str(steps),
                                "--transform", "none", "-q"])
    peak = 0.0

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            try:
                peak = max(peak, rss_mib(process.pid))
            except OSError:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    process.wait()
    sampler.join()
    report = json.loads((out / "report.json").read_text())
    from nfcodec import container

    complete = sum(container.read(p.read_bytes()).complete for p in out.glob("*.nff"))
    return {"files": count, "exit_status": process.returncode, "seconds": time.perf_counter() - start, "coordinator_peak_rss_mib": peak,
            "ok": report["summary"]["ok"], "failed": report["summary"]["failed"], "complete_files": complete,
            "nff_bytes": sum(p.stat().st_size for p in out.glob("*.nff"))}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrent", type=int, default=32)
    ap.add_argument("--waves", type=int, default=6)
    ap.add_argument("--served", type=int, default=8, help="distinct files on the server")
    ap.add_argument("--files", type=int, default=1000, help="inputs of the large batch")
    ap.add_argument("--steps", type=int, default=4, help="training steps of each batch encode")
    ap.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = ap.parse_args(argv)
    setup_runtime()
    with tempfile.TemporaryDirectory(prefix="nfc-load-") as tmp:
        folder = Path(tmp)
        decodes = concurrent_decodes(folder, args.served, args.concurrent, args.waves)
        batches = [batch_peak(folder, max(1, args.files // 10), args.steps), batch_peak(folder, args.files, args.steps)]
    result = {"benchmark": "load", **run_metadata(sys.argv[1:] if argv is None else argv), "settings": vars(args) | {"out": str(args.out)},
              "remote": decodes, "batches": batches}
    wave_table = markdown_table(["wave", "decodes at once", "seconds", "RSS MiB after"],
                                [[w["wave"], args.concurrent, f"{w['seconds']:.2f}", f"{w['rss_mib']:.0f}"] for w in decodes["waves"]])
    batch_table = markdown_table(["inputs", "ok", "failed", "complete .nff", "seconds", "coordinator peak RSS MiB", "exit"],
                                 [[b["files"], b["ok"], b["failed"], b["complete_files"], f"{b['seconds']:.0f}",
                                   f"{b['coordinator_peak_rss_mib']:.0f}", b["exit_status"]] for b in batches])
    result["table_markdown"] = wave_table + "\n\n" + batch_table
    print(f"{decodes['decodes']} remote decodes, {decodes['wrong']} wrong, {len(decodes['errors'])} errors; "
          f"RSS growth first to last wave {decodes['rss_growth_mib']:+.1f} MiB\n")
    print(result["table_markdown"])
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
