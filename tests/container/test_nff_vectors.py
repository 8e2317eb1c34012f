"""The conformance vectors and the examples in formats/nff.md, run as tests."""
from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np
import pytest
import zstandard

from nfcodec import container, errors
from nfcodec.container import limits

from nff_support import SPEC, VECTORS


def test_vectors_match_the_manifest(mv, manifest):
    assert manifest["format"] == "NFF" and manifest["version"] == "1.0"
    for entry in manifest["vectors"]:
        data = (VECTORS / entry["file"]).read_bytes()
        assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        for mode in ("progressive", "strict"):
            assert mv.observe(data, strict=mode == "strict") == entry[mode], (entry["file"], mode)


def test_vector_folder_holds_exactly_the_listed_files(manifest):
    listed = {e["file"] for e in manifest["vectors"]}
    assert {p.name for p in VECTORS.glob("*.nff")} == listed
    assert len(listed) == len(manifest["vectors"])
    assert sum(e["size"] for e in manifest["vectors"]) < 96 * 1024  # a small corpus (err_header_containers: 33 KB, one byte per array)


def test_vectors_cover_every_container_error(manifest):
    named = set()
    for entry in manifest["vectors"]:
        for mode in ("progressive", "strict"):
            outcome = entry[mode]
            named |= {outcome["error"]} if not outcome["ok"] else {s["error"] for s in outcome.get("stages", []) if "error" in s}
    for name in named:
        assert issubclass(getattr(errors, name), errors.NffError), name
    container_errors = {n for n in dir(errors) if isinstance(getattr(errors, n), type) and issubclass(getattr(errors, n), errors.NffError)}
    assert container_errors - named == {"NffError", "UnknownCodecId"}


def test_regenerating_reproduces_the_committed_bytes(mv, manifest):
    files = mv.generate()
    differ = sorted(n for n, d in files.items() if (VECTORS / n).read_bytes() != d)
    if not differ:
        return
    libzstd = {e["file"] for e in manifest["vectors"] if e["libzstd"]}
    version = ".".join(map(str, zstandard.ZSTD_VERSION))
    if version != manifest["zstd_library"] and set(differ) <= libzstd | {"vectors.json"}:
        pytest.skip(f"libzstd {version} compresses differently from {manifest['zstd_library']}: {differ}")
    pytest.fail(f"make_vectors.py no longer reproduces {differ}; run it and review the diff")


def test_make_vectors_check_mode(mv, tmp_path):
    assert mv.main(["--out", str(tmp_path)]) == 0
    assert mv.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "ok_minimal.nff").write_bytes(b"changed")
    assert mv.main(["--out", str(tmp_path), "--check"]) == 1


def test_siren_image_vector_pixels(mv, manifest):
    entry = next(e for e in manifest["vectors"] if e["file"] == "ok_siren_image.nff")
    nff = container.read((VECTORS / entry["file"]).read_bytes(), strict=True)
    config = dict(nff.header.field["config"])
    height, width = nff.header.signal["shape"]
    stages = [nff.stage_tensors(k) for k in range(1, nff.stages_total + 1)]
    for k, pixels in entry["image_pixels"].items():
        got = mv.siren_pixels(stages[: int(k)], config, height, width)
        assert got.tolist() == pixels


# ---- the examples and tables of formats/nff.md ------------------------------------------


def spec_text() -> str:
    return SPEC.read_text()


def test_spec_worked_example_is_ok_minimal():
    section = spec_text().split("## 12. Worked example", 1)[1]
    dump = re.search(r"```\n(0000 .*?)```", section, re.S).group(1)
    data = bytes.fromhex("".join(line[6:] for line in dump.splitlines()))
    assert data == (VECTORS / "ok_minimal.nff").read_bytes()
    header = container.read_header(data)
    assert header.header_end == 207 and header.file_size == 239 == len(data)
    assert container.read(data, strict=True).stage_tensors(1)["a"].tolist() == [0.5, -1.0]


def test_spec_signature_and_crc():
    text = spec_text()
    assert "`8B 4E 46 46 0D 0A 1A 0A`" in text and container.SIGNATURE == bytes.fromhex("8B4E46460D0A1A0A")
    assert "`0xCBF43926`" in text and zlib.crc32(b"123456789") == 0xCBF43926


def parse_power(cell: str) -> int:
    """'2^20 bytes (1 MiB)' -> 1048576; '65,536 / 4,096 entries' -> first number."""
    cell = cell.strip("` ")
    m = re.match(r"2\^(-?\d+)", cell)
    if m:
        return 2 ** int(m.group(1))
    return int(re.match(r"[\d,]+", cell).group(0).replace(",", ""))


def test_spec_limits_table_matches_limits_py():
    section = spec_text().split("## 8. Limits", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("limit", "---"):
            rows[cells[0]] = cells[1]
    expected = {
        "header data": limits.MAX_HEADER_BYTES,
        "chunk data": limits.MAX_CHUNK_BYTES,
        "chunks": limits.MAX_CHUNKS,
        "stages": limits.MAX_STAGES,
        "tensors per stage": limits.MAX_TENSORS_PER_STAGE,
        "tensor rank": limits.MAX_TENSOR_RANK,
        "tensor elements": limits.MAX_TENSOR_ELEMENTS,
        "stage raw size": limits.MAX_STAGE_RAW_BYTES,
        "total raw size": limits.MAX_TOTAL_RAW_BYTES,
        "name length": limits.MAX_NAME_LENGTH,
        "header nesting": limits.MAX_MSGPACK_DEPTH,
        "header arrays / maps": limits.MAX_HEADER_ARRAY_LEN,
        "zstd window": limits.MAX_ZSTD_WINDOW,
    }
    for name, value in expected.items():
        assert parse_power(rows[name]) == value, name
    assert rows["header arrays / maps"].startswith("65,536 / 4,096") and limits.MAX_HEADER_MAP_LEN == 4096
    assert rows["registry ids"] == "0..65,535" and limits.MAX_REGISTRY_ID == 65535
    assert rows["quantisation step"].startswith("[2^-126, 2^64]")
    assert (limits.MIN_QUANT_STEP, limits.MAX_QUANT_STEP) == (2.0**-126, 2.0**64)


def test_spec_siren_parameter_count_formula():
    """The siren annex.s count equals the sum of the tensor sizes of its stage table."""
    d, o, layers, widths = 2, 3, 4, (30, 69, 110)
    for k in range(1, len(widths) + 1):
        w = widths[k - 1]
        formula = (d + 1) * w + layers * (w * w + w) + o * w + o - layers * sum(widths[j] * (widths[j + 1] - widths[j]) for j in range(k - 1))
        stored = 0
        for j in range(1, k + 1):
            lo, hi = (widths[j - 2] if j > 1 else 0), widths[j - 1]
            n = hi - lo
            stored += n * d + n + layers * (n * hi + n) + o * n + (o if j == 1 else 0)
        assert formula == stored


def test_empty_zstd_frame_is_nine_bytes():
    """Section 7, item 8."""
    frame = zstandard.ZstdCompressor(write_content_size=True).compress(b"")
    assert len(frame) == 9 and zstandard.frame_content_size(frame) == 0
    assert np.frombuffer(frame[:4], "<u4")[0] == 0xFD2FB528
