"""kodak_batch (issue 15): the whole Kodak set through `nfc batch --compare` with the default
settings, as a user runs it; its summary, report, comparison and plots are committed in
results/kodak_batch/.

With --verify, in the same run, the batch's promises on the same 24 images:
  * killed with SIGKILL halfway (after half the inputs are journalled) and rerun, it finishes
    without redoing finished files, its report equals the uninterrupted run's (timings and the
    `run` section aside) and its files are byte-identical;
  * the same batch on a local Dask cluster (`--scheduler local-dask`, the same workers and
    threads) writes byte-identical files.

The table: our mean bpp and PSNR at each decodable width, and each classic codec's mean PSNR
at that bpp (its curve, measured in the same run on the same images, interpolated in log-rate;
"-" outside its range). PSNR is RGB over every sample, the mean of per-image PSNRs.

    python benchmarks/kodak_batch.py --verify          # the committed run
    python benchmarks/kodak_batch.py --data-dir DIR --work /tmp/kb
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, RESULTS, markdown_table, psnr_at, run_metadata, write_json  # noqa: E402

from nfcodec.batch.report import without_timings  # noqa: E402

COPIED = ("summary.md", "report.json", "report.csv", "compare.json", "report.html", "rd_image.png", "rd_image.svg",
          "stages_image.png", "stages_image.svg")
NFC = [sys.executable, "-c", "import sys; from nfcodec.cli import main; sys.exit(main())"]


def batch(data: Path | str, out: Path, extra: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([*NFC, "batch", str(data), "-o", str(out), *extra], check=True)
    return time.perf_counter() - start


def nff_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.nff")) if not p.name.startswith(".")}


def killed_and_resumed(data: Path | str, out: Path, reference: Path, extra: list[str]) -> dict[str, Any]:
    """SIGKILL the batch once half the inputs are journalled, rerun it, compare."""
    journal = out / ".nfc-batch" / "journal.jsonl"
    total = len(json.loads((reference / "report.json").read_text())["inputs"])
    process = subprocess.Popen([*NFC, "batch", str(data), "-o", str(out), *extra, "-q"])
    while process.poll() is None and (not journal.exists() or journal.read_bytes().count(b"\n") < total // 2):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_at_kill = journal.read_bytes().count(b"\n")
    report_at_kill = (out / "report.json").exists()
    time.sleep(2)  # the orphaned workers notice and leave
    seconds = batch(data, out, [*extra, "-q"])
    resumed = json.loads((out / "report.json").read_text())
    return {"journalled_at_kill": finished_at_kill, "report_existed_at_kill": report_at_kill, "rerun_seconds": round(seconds, 1),
            "rerun_encoded": resumed["run"]["encoded"], "rerun_reused": resumed["run"]["reused"],
            "report_equal": without_timings(resumed) == without_timings(json.loads((reference / "report.json").read_text())),
            "files_identical": nff_files(out) == nff_files(reference)}


def table(report: dict[str, Any], page_json: dict[str, Any]) -> str:
    image = report["summary"]["modalities"]["image"]
    classic = [c for c in page_json["curves"]["image"] if c["kind"] == "classic"]
    rows = []
    for stage in image["stages"]:
        cells = [f"nfc width {stage['width']}", f"{stage['rate']:.3f}", f"{stage['quality']['psnr']:.2f}"]
        for curve in classic:
            value = psnr_at([tuple(p) for p in curve["points"]], stage["rate"])
            cells.append("-" if value is None else f"{value:.2f}")
        rows.append(cells)
    return markdown_table(["file prefix", "mean bpp", "nfc PSNR dB"] + [f"{c['label'].split(' (')[0]} dB at that bpp" for c in classic], rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=KODAK)
    ap.add_argument("--pattern", default="*.png", help="which files of --data-dir (the Kodak folder also holds SHA256SUMS, which a "
                    "batch of the folder itself reports as a failed input)")
    ap.add_argument("--work", type=Path, help="where the batches are written [default: a temporary folder]")
    ap.add_argument("--verify", action="store_true", help="also the SIGKILL-and-resume run and the local Dask run")
    ap.add_argument("--no-compare", action="store_true", help="skip the classic codecs (a --verify run at fewer steps, say)")
    ap.add_argument("--out", type=Path, default=RESULTS / "kodak_batch")
    ap.add_argument("extra", nargs="*", help="encode options after --, e.g. -- --steps 20 (the committed run has none)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="kodak-batch-"))
    data = args.data_dir / args.pattern  # a glob: nfc batch expands it
    full = work / "full"
    seconds = batch(data, full, [*args.extra, *([] if args.no_compare else ["--compare"])])
    report = json.loads((full / "report.json").read_text())
    page_json = {"curves": {"image": []}}
    if not args.no_compare:
        page = subprocess.run([*NFC, "report", str(full), "--json", "-q"], check=True, capture_output=True, text=True)
        page_json = json.loads(page.stdout)
    result: dict[str, Any] = {"benchmark": "kodak_batch", **run_metadata(sys.argv[1:] if argv is None else argv),
                              "batch_seconds_with_compare": round(seconds, 1), "engine": report["run"]["engine"],
                              "summary": report["summary"], "curves": page_json["curves"]}
    if args.verify:
        result["killed_and_resumed"] = killed_and_resumed(data, work / "killed", full, args.extra)
        dask_seconds = batch(data, work / "dask", [*args.extra, "--scheduler", "local-dask", "-q"])
        result["local_dask"] = {"seconds": round(dask_seconds, 1), "files_identical": nff_files(work / "dask") == nff_files(full)}
    result["table_markdown"] = table(report, page_json)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (full / name).exists():
            shutil.copy(full / name, args.out / name)
    write_json(args.out / "kodak_batch.json", result)
    print(result["table_markdown"])
    print(json.dumps({k: result.get(k) for k in ("batch_seconds_with_compare", "killed_and_resumed", "local_dask")}, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
