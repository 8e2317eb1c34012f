"""Write the NFF 1.0 conformance vectors and `vectors.json` (formats/nff.md, "Conformance vectors").

    python formats/vectors/make_vectors.py            # rewrite the files beside this script
    python formats/vectors/make_vectors.py --out DIR  # write them elsewhere
    python formats/vectors/make_vectors.py --check    # exit 1 if the committed files differ

Also writes `transform_vectors.json` (the transforms of section 11) from transform_vectors.py.

Deterministic, numpy + msgpack + zstandard only (no torch, no training). Valid files come from
the container's writer (`assemble`); invalid ones are built here with a small, independent
implementation of the framing in the spec, patching bytes and recomputing CRCs. Every
expectation is written down by hand below; the script refuses to write a vector the reader
disagrees with, so the reader and this list can never drift apart silently.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import msgpack
import numpy as np

SIG = b"\x8bNFF\r\n\x1a\n"
HERE = Path(__file__).resolve().parent


# ---- an independent implementation of the framing (formats/nff.md, "Chunks") -------------


def frame(chunk_type: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(chunk_type + data) if crc is None else crc
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def raw_zstd(payload: bytes, content_size: int | None = None) -> bytes:
    """One zstd frame holding one Raw_Block (RFC 8878), byte-for-byte independent of libzstd:
    magic, Frame_Header_Descriptor 0x20 (single segment, 1-byte Frame_Content_Size), size, block."""
    assert len(payload) < 256
    size = len(payload) if content_size is None else content_size
    block_header = (1 | (len(payload) << 3)).to_bytes(3, "little")  # last block, raw
    return b"\x28\xb5\x2f\xfd\x20" + bytes([size]) + block_header + payload


def header_map(stages: list[dict[str, Any]], compression: str = "none", **extra: Any) -> dict[str, Any]:
    head: dict[str, Any] = {
        "version": [1, 0],
        "modality": "test",
        "signal": {},
        "transform": {"id": 0, "name": "identity", "params": {}},
        "field": {"arch": "test", "config": {}},
        "compression": compression,
        "stages": stages,
    }
    head.update(extra)
    return head


def build(head: dict[str, Any] | bytes, body: list[tuple[bytes, bytes]], index: list[Any] | None = None) -> bytes:
    """Signature, NHDR (msgpack of `head`, whose index is computed from `body` unless given), body."""
    if isinstance(head, dict):
        if index is None:
            index, rel = [], 0
            for chunk_type, data in body:
                index.append([chunk_type.decode("ascii"), rel, len(data)])
                rel += 12 + len(data)
        head = msgpack.packb({**head, "index": index}, use_bin_type=True)
    return SIG + frame(b"NHDR", head) + b"".join(frame(t, d) for t, d in body)


def t(name: str, shape: list[int], dtype: str, step: float | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "shape": shape, "dtype": dtype}
    if step is not None:
        spec["step"] = step
    return spec


def f32(*values: float) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


END = (b"NEND", b"")
# A compact valid base: one stage, tensor "a" = [0.5, -1.0] as f32, uncompressed.
BASE_STAGES = [{"width": 1, "tensors": [t("a", [2], "f32")]}]
BASE_BODY = [(b"NSTG", f32(0.5, -1.0)), END]
BASE_VALUES = [{"a": np.array([0.5, -1.0], np.float32)}]


def base(**extra: Any) -> bytes:
    return build(header_map(BASE_STAGES, **extra), BASE_BODY)


def patched(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def header_end(data: bytes) -> int:
    return 8 + 12 + struct.unpack_from(">I", data, 8)[0]


# ---- the vectors -------------------------------------------------------------------------


@dataclass
class Vector:
    name: str
    description: str
    data: bytes
    # Expected outcome per mode: an error class name, or None for "parses". For a file that
    # parses, `stages_available`, `complete` and the decoded tensors (or per-stage errors).
    error: str | None = None
    strict_error: str | None = None
    stages_available: int = 0
    stages_total: int = 0
    complete: bool = True
    stages: list[dict[str, np.ndarray] | str] = field(default_factory=list)
    ancillary: dict[str, list[bytes]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    libzstd: bool = False  # compressed by libzstd, whose output may change between its versions
    transform_data: bytes | str | None = None  # decoded NXFM data, or the error decoding it raises


def writer_vectors() -> list[Vector]:
    from nfcodec.container import StageData, assemble, encode_stage

    a = np.array([[0.5, -1.25, 3.0], [0.0, 2.0, -0.75]], np.float32)
    b = np.array([1.5, -0.5, 0.25], np.float32)
    common = dict(
        modality="test",
        signal={},
        transform={"id": 0, "name": "identity", "params": {}},
        field_info={"arch": "test", "config": {}},
    )
    out = []
    for dtype, compression in [("f32", "zstd"), ("f16", "zstd"), ("q8", "zstd"), ("q16", "zstd"), ("f32", "none"), ("q8", "none")]:
        stages = [encode_stage(StageData(1, [("a", a, dtype)]), compression), encode_stage(StageData(2, [("b", b, dtype)]), compression)]
        data = assemble(stages=stages, compression=compression, **common)
        out.append(Vector(f"ok_{dtype}_{compression}", f"two stages of {dtype} tensors, compression {compression}", data,
                          stages_available=2, stages_total=2, stages=[s.decoded for s in stages], libzstd=compression == "zstd"))
    stages = [encode_stage(StageData(1, [("a", a[0], "f32")]))]
    data = assemble(stages=stages, extra_chunks=[("teXt", b"hello"), ("zzzz", b"")], **common)
    out.append(Vector("ok_ancillary", "unknown ancillary chunks teXt and zzzz before the stage: skipped", data,
                      stages_available=1, stages_total=1, stages=[stages[0].decoded], ancillary={"teXt": [b"hello"], "zzzz": [b""]},
                      libzstd=True))
    out.append(siren_image_vector())
    return out


def siren_image_vector() -> Vector:
    """A 2x2 grey 8-bit image as a progressive SIREN of widths (2, 3) with one hidden layer,
    with fixed weights: a decoder test for formats/annex-image.md and annex-field-siren.md."""
    from nfcodec.container import StageData, assemble, encode_stage

    s1 = {
        "first.w": [[0.3, -0.2], [0.1, 0.4]], "first.b": [0.05, -0.1],
        "hidden0.w": [[0.02, -0.03], [0.04, 0.01]], "hidden0.b": [0.01, -0.02],
        "out.w": [[0.2, -0.15]], "out.b": [0.45],
    }
    s2 = {"first.w": [[-0.25, 0.35]], "first.b": [0.02], "hidden0.w": [[0.03, -0.01, 0.05]], "hidden0.b": [0.0], "out.w": [[0.12]]}
    stages = [encode_stage(StageData(w, [(k, np.array(v, np.float32), "f16") for k, v in s.items()])) for w, s in ((2, s1), (3, s2))]
    config = {"in_dim": 2, "out_dim": 1, "hidden_layers": 1, "omega": 30.0}
    data = assemble(
        modality="image",
        signal={"shape": [2, 2], "channels": 1, "color": "grey", "bit_depth": 8, "value_range": [0, 255], "coords": "pixel-centre"},
        transform={"id": 0, "name": "identity", "params": {}},
        field_info={"arch": "siren", "id": 1, "config": config},
        stages=stages,
    )
    decoded = [s.decoded for s in stages]
    pixels = {str(k): siren_pixels(decoded[:k], config, 2, 2).tolist() for k in (1, 2)}
    return Vector("ok_siren_image", "a 2x2 grey image, progressive SIREN widths 2 and 3, f16 (decodes with the image codec)",
                  data, stages_available=2, stages_total=2, stages=decoded, extra={"image_pixels": pixels}, libzstd=True)


def siren_pixels(stages: list[dict[str, np.ndarray]], config: dict[str, Any], height: int, width: int) -> np.ndarray:
    """Reference decoder of formats/annex-field-siren.md + annex-image.md (8-bit samples), in float64
    numpy: fill the full matrices block by block, then evaluate at the width of the last stage."""
    k = len(stages)
    w = sum(s["first.w"].shape[0] for s in stages)  # each stage adds n_k = w_k - w_{k-1} rows
    first_w, first_b = np.zeros((w, config["in_dim"])), np.zeros(w)
    hidden = [(np.zeros((w, w)), np.zeros(w)) for _ in range(config["hidden_layers"])]
    out_w, lo = np.zeros((config["out_dim"], w)), 0
    for s in stages:
        hi = lo + s["first.w"].shape[0]
        first_w[lo:hi], first_b[lo:hi] = s["first.w"], s["first.b"]
        for i, (hw, hb) in enumerate(hidden):
            hw[lo:hi, :hi], hb[lo:hi] = s[f"hidden{i}.w"], s[f"hidden{i}.b"]
        out_w[:, lo:hi] = s["out.w"]
        lo = hi
    rows, cols = (np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width
    u = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    h = np.sin(config["omega"] * ((2 * u - 1) @ first_w.T + first_b))
    for hw, hb in hidden:
        h = np.sin(config["omega"] * (h @ hw.T + hb))
    y = h @ out_w.T + stages[0]["out.b"]
    scaled = np.clip(y, 0, 1) * 255
    # Keep the vector away from rounding ties, so float32 decoders agree with this one.
    assert np.all(np.abs(scaled - np.floor(scaled) - 0.5) > 0.01), f"pixel values too close to a tie at k={k}"
    return np.rint(scaled).astype(int).reshape(height, width, config["out_dim"])


def hand_vectors() -> list[Vector]:
    v: list[Vector] = []
    ok = dict(stages_available=1, stages_total=1, stages=BASE_VALUES)

    def add(name: str, description: str, data: bytes, error: str | None = None, **kw: Any) -> None:
        if error is not None:
            kw.setdefault("strict_error", error)
        v.append(Vector(name, description, data, error=error, **kw))

    good = base()
    add("ok_minimal", "smallest kind of file: one stage, one f32 tensor, compression none", good, **ok)
    add("ok_minimal_zstd", "the same tensor in a hand-made zstd frame (one Raw_Block)",
        build(header_map(BASE_STAGES, "zstd"), [(b"NSTG", raw_zstd(f32(0.5, -1.0))), END]), **ok)
    add("ok_minor_version", "version 1.3 with unknown keys at the top level and in a tensor: ignored",
        build(header_map([{"width": 1, "tensors": [{**t("a", [2], "f32"), "future": [1, 2]}]}], version=[1, 3], future={"x": None}), BASE_BODY), **ok)
    edge_stages = [
        {"width": 1, "tensors": [t("s", [], "f32"), t("e", [0, 5], "q8", 1.0), t("m", [1, 1, 1, 1], "q16", 0.25)]},
        {"width": 2, "tensors": []},
    ]
    add("ok_edge_shapes", "a rank-0 tensor, an empty tensor, a rank-4 tensor, and a stage with no tensors (zstd)",
        build(header_map(edge_stages, "zstd"), [(b"NSTG", raw_zstd(f32(7.0) + struct.pack("<h", -3))), (b"NSTG", raw_zstd(b"")), END]),
        stages_available=2, stages_total=2,
        stages=[{"s": np.array(7.0, np.float32), "e": np.zeros((0, 5), np.float32), "m": np.full((1, 1, 1, 1), -0.75, np.float32)}, {}])
    add("ok_q_extremes", "q8 -128 and q16 -32768 are valid although writers never produce them",
        build(header_map([{"width": 4, "tensors": [t("q8", [3], "q8", 0.5), t("q16", [2], "q16", 2.0**-10)]}]),
              [(b"NSTG", bytes([0x80, 0x7F, 0x00]) + struct.pack("<hh", -32768, 32767)), END]),
        stages_available=1, stages_total=1,
        stages=[{"q8": np.array([-64.0, 63.5, 0.0], np.float32), "q16": np.array([-32.0, 32767 / 1024], np.float32)}])
    two_stages = [{"width": 1, "tensors": [t("a", [2], "f32")]}, {"width": 2, "tensors": [t("a", [1], "f16")]}]
    two_body = [(b"NSTG", f32(0.5, -1.0)), (b"NSTG", struct.pack("<e", 1.5)), END]
    two_values = [BASE_VALUES[0], {"a": np.array([1.5], np.float32)}]
    add("ok_ancillary_between_stages", "an ancillary chunk between the two stage chunks",
        build(header_map(two_stages), [two_body[0], (b"stat", b"\x01\x02"), two_body[1], END]),
        stages_available=2, stages_total=2, stages=two_values, ancillary={"stat": [b"\x01\x02"]})

    full = build(header_map(two_stages), two_body)
    stage2_at = header_end(full) + 12 + 8
    add("prefix_in_stage2", "a prefix ending inside the second stage chunk", full[: stage2_at + 12 + 1],
        strict_error="TruncatedFile", stages_available=1, stages_total=2, complete=False, stages=two_values[:1])
    add("prefix_header_only", "a prefix holding the header and nothing else", full[: header_end(full)],
        strict_error="TruncatedFile", stages_available=0, stages_total=2, complete=False)
    add("prefix_in_nend", "every chunk but the last 4 bytes of NEND: all stages, yet not complete", full[:-4],
        strict_error="TruncatedFile", stages_available=2, stages_total=2, complete=False, stages=two_values)
    broken = patched(full, header_end(full) + 8, b"\xff")
    add("err_crc_then_truncated", "a corrupt complete stage 1 in a prefix that ends inside stage 2",
        broken[: stage2_at + 13], "ChunkChecksumError")
    add("err_prefix_chunk_mismatch", "a prefix whose partial last chunk has a length the index contradicts",
        patched(full, stage2_at, b"\x00\x00\x00\x03")[: stage2_at + 9], "InvalidChunkLayout")
    add("err_prefix_in_header", "a prefix ending inside the header chunk", full[: header_end(full) - 1], "TruncatedFile")
    add("err_prefix_in_signature", "the first 5 bytes of the signature", full[:5], "TruncatedFile")

    add("err_empty", "zero bytes", b"", "BadSignature")
    add("err_signature_png", "a PNG signature", b"\x89PNG\r\n\x1a\n" + good[8:], "BadSignature")
    add("err_signature_7bit", "the signature's high bit stripped by a 7-bit transport", b"\x0b" + good[1:], "BadSignature")
    add("err_signature_crlf", "LF -> CR LF newline translation", good[:7] + b"\r\n" + good[8:], "BadSignature")
    add("err_crc_header", "one bit of the header data flipped, CRC kept", patched(good, 21, bytes([good[21] ^ 1])), "ChunkChecksumError")
    add("err_crc_stage", "one bit of the stage data flipped, CRC kept",
        patched(good, header_end(good) + 8, bytes([good[header_end(good) + 8] ^ 0x80])), "ChunkChecksumError")
    add("err_crc_nend", "the NEND chunk's CRC is wrong", good[:-4] + bytes(4), "ChunkChecksumError")
    add("err_unknown_critical", "a critical chunk type XTRA this reader does not know",
        build(header_map(BASE_STAGES), [(b"XTRA", b"?"), *BASE_BODY]), "UnknownCriticalChunk")
    add("err_trailing_bytes", "one byte after the NEND chunk", good + b"\x00", "InvalidChunkLayout")
    hole_index = [["NSTG", 4, 8], ["NEND", 24, 0]]
    add("err_index_hole", "4 unused bytes between the header and the stage, skipped by the index",
        build(header_map(BASE_STAGES), [], hole_index) + b"\0" * 4 + frame(*BASE_BODY[0]) + frame(*END), "InvalidChunkLayout")
    add("err_chunk_mismatch", "the index says NSTG, the file holds an ancillary chunk of the same length there",
        build(header_map(BASE_STAGES), [], [["NSTG", 0, 8], ["NEND", 20, 0]]) + frame(b"teXt", b"x" * 8) + frame(*END),
        "InvalidChunkLayout")
    add("err_chunk_type_bytes", "a chunk whose type bytes are not four ASCII letters",
        build(header_map(BASE_STAGES), [], [["NSTG", 0, 8], ["NEND", 20, 0]]) + frame(b"N5TG", f32(0.5, -1.0)) + frame(*END),
        "InvalidChunkLayout")
    add("err_first_chunk", "the first chunk is not NHDR", SIG + frame(b"NSTG", b"") + good[8:], "InvalidChunkLayout")
    add("err_nend_not_empty", "NEND with one data byte", build(header_map(BASE_STAGES), [BASE_BODY[0], (b"NEND", b"\0")]), "InvalidChunkLayout")
    add("err_nend_missing", "the index ends with a stage, not NEND", build(header_map(BASE_STAGES), BASE_BODY[:1]), "InvalidChunkLayout")
    add("err_header_listed", "the index lists a second NHDR", build(header_map(BASE_STAGES), [(b"NHDR", b""), *BASE_BODY]), "InvalidChunkLayout")
    add("err_stage_count", "two stages described, one NSTG chunk",
        build(header_map([*BASE_STAGES, {"width": 2, "tensors": []}]), BASE_BODY), "InvalidChunkLayout")
    add("err_none_length", "compression none, but the chunk is 4 bytes longer than the tensors",
        build(header_map(BASE_STAGES), [(b"NSTG", f32(0.5, -1.0, 2.0)), END]), "InvalidChunkLayout")
    add("err_header_huge_length", "the NHDR length field says 0xFFFFFFF0", patched(good, 8, b"\xff\xff\xff\xf0"), "LimitExceeded")
    add("err_index_huge_length", "the index declares a 2^31-byte chunk",
        build(header_map(BASE_STAGES), [], [["NSTG", 0, 1 << 31], ["NEND", 12 + (1 << 31), 0]]) + frame(*BASE_BODY[0]), "LimitExceeded")
    add("err_too_many_stages", "65 stages (limit 64)",
        build(header_map([{"width": i, "tensors": []} for i in range(1, 66)]), [(b"NSTG", b"")] * 65 + [END]), "LimitExceeded")
    add("err_tensor_too_large", "a tensor of 2^27 elements (limit 2^26)",
        build(header_map([{"width": 1, "tensors": [t("a", [1 << 14, 1 << 13], "q8", 1.0)]}], "zstd"), [(b"NSTG", raw_zstd(b"")), END]),
        "LimitExceeded")
    quarters = [t(f"a{i}", [1 << 26], "q8", 1.0) for i in range(3)] + [t("a3", [(1 << 26) - 64], "q8", 1.0)]
    add("err_stage_elements", "one stage of 2^28 - 64 q8 and 128 qe elements (limit 2^28), its raw size within 2^28 bytes",
        build(header_map([{"width": 1, "tensors": [*quarters, {**t("e", [128], "qe", 1.0), "bytes": 3}]}], "zstd", version=[1, 1]),
              [(b"NSTG", raw_zstd(b"")), END]), "LimitExceeded")
    add("err_header_containers", "a header holding 32,769 arrays (limit 32,768 arrays and maps in all)",
        build(header_map(BASE_STAGES, encoder={"x": [[] for _ in range(32768)]}), BASE_BODY), "InvalidHeader")
    add("err_version_2", "format version 2.0", base(version=[2, 0]), "UnsupportedVersion")
    add("err_header_not_map", "the header is a msgpack array", build(msgpack.packb([1, 0]), []), "InvalidHeader")
    add("err_header_not_msgpack", "the header holds the never-used msgpack byte 0xc1", build(b"\xc1", []), "InvalidHeader")
    head = msgpack.packb({**header_map(BASE_STAGES), "index": [["NSTG", 0, 8], ["NEND", 20, 0]]})
    add("err_header_extra_bytes", "a second msgpack object after the header map", build(head + b"\x00", BASE_BODY), "InvalidHeader")
    assert head[0] == 0x88  # a fixmap of 8 entries: make it 9, the 9th repeating a key
    add("err_duplicate_key", "the key 'compression' twice (a lenient msgpack reader would keep 'zstd')",
        build(b"\x89" + head[1:] + b"\xabcompression\xa4zstd", BASE_BODY), "InvalidHeader")
    add("err_bool_width", "width true: a bool is never an integer",
        build(header_map([{"width": True, "tensors": [t("a", [2], "f32")]}]), BASE_BODY), "InvalidHeader")
    add("err_float_width", "width 1.0: a float is never an integer",
        build(header_map([{"width": 1.0, "tensors": [t("a", [2], "f32")]}]), BASE_BODY), "InvalidHeader")
    add("err_nan_in_header", "a NaN inside the signal description", base(signal={"gain": float("nan")}), "InvalidHeader")
    add("err_bin_in_header", "a msgpack bin value", base(signal={"blob": b"\x00"}), "InvalidHeader")
    add("err_ext_in_header", "a msgpack timestamp (ext -1)", base(signal={"when": msgpack.Timestamp(0)}), "InvalidHeader")
    nested: Any = 0
    for _ in range(20):
        nested = [nested]
    add("err_deep_nesting", "the signal description nests 20 arrays deep (limit 16)", base(signal={"x": nested}), "InvalidHeader")
    add("err_missing_step", "a q8 tensor without 'step'",
        build(header_map([{"width": 1, "tensors": [t("a", [2], "q8")]}]), [(b"NSTG", b"\x01\x02"), END]), "InvalidHeader")
    add("err_step_not_binary32", "step 0.1 is not exactly a binary32 number",
        build(header_map([{"width": 1, "tensors": [t("a", [2], "q8", 0.1)]}]), [(b"NSTG", b"\x01\x02"), END]), "InvalidHeader")
    add("err_step_on_float", "an f32 tensor with a 'step'",
        build(header_map([{"width": 1, "tensors": [t("a", [2], "f32", 0.5)]}]), BASE_BODY), "InvalidHeader")
    add("err_widths_not_increasing", "stage widths 2 then 2",
        build(header_map([{"width": 2, "tensors": []}, {"width": 2, "tensors": []}]), [(b"NSTG", b""), (b"NSTG", b""), END]), "InvalidHeader")
    add("err_duplicate_tensor", "two tensors named 'a' in one stage",
        build(header_map([{"width": 1, "tensors": [t("a", [1], "f32"), t("a", [1], "f32")]}]), BASE_BODY), "InvalidHeader")
    add("err_unknown_dtype", "dtype bf16 is not defined in 1.0",
        build(header_map([{"width": 1, "tensors": [t("a", [2], "bf16")]}]), [(b"NSTG", b"\0" * 4), END]), "InvalidHeader")

    # Errors found only when a stage is decoded: read() succeeds, stage_tensors(1) raises.
    def stage_error(name: str, description: str, data: bytes, error: str) -> None:
        add(name, description, data, stages_available=1, stages_total=1, stages=[error])

    qe_vectors(add, stage_error)

    zstd_stage = header_map(BASE_STAGES, "zstd")
    stage_error("err_zstd_size_lie", "the zstd frame declares 7 bytes, the header implies 8",
                build(zstd_stage, [(b"NSTG", raw_zstd(f32(0.5, -1.0), 7)), END]), "InvalidPayload")
    stage_error("err_zstd_no_size", "a zstd frame without Frame_Content_Size",
                build(zstd_stage, [(b"NSTG", b"\x28\xb5\x2f\xfd\x00\x00" + (1 | 8 << 3).to_bytes(3, "little") + f32(0.5, -1.0)), END]),
                "InvalidPayload")
    stage_error("err_zstd_trailing", "one byte after the zstd frame",
                build(zstd_stage, [(b"NSTG", raw_zstd(f32(0.5, -1.0)) + b"\0"), END]), "InvalidPayload")
    stage_error("err_zstd_skippable", "a skippable frame instead of a zstd frame (for an empty stage)",
                build(header_map([{"width": 1, "tensors": []}], "zstd"), [(b"NSTG", b"\x50\x2a\x4d\x18\0\0\0\0"), END]), "InvalidPayload")
    stage_error("err_zstd_corrupt", "a zstd frame with a reserved block type",
                build(zstd_stage, [(b"NSTG", raw_zstd(f32(0.5, -1.0))[:6] + (1 | 6 | 8 << 3).to_bytes(3, "little") + f32(0.5, -1.0)), END]),
                "InvalidPayload")
    stage_error("err_f16_infinite", "an f16 +infinity (0x7c00)",
                build(header_map([{"width": 1, "tensors": [t("a", [2], "f16")]}]), [(b"NSTG", b"\x00\x3c\x00\x7c"), END]), "InvalidPayload")
    stage_error("err_f32_nan", "an f32 NaN", build(header_map(BASE_STAGES), [(b"NSTG", f32(0.5, float("nan"))), END]), "InvalidPayload")

    # The transform data chunk (section 11.6), in hand-made zstd frames.
    v += load_transform_vectors().container_vectors(sys.modules[__name__])
    return v


def qe_vectors(add: Any, stage_error: Any) -> None:
    """Entropy-coded tensors (section 6.4): one stream of each model kind, and broken ones."""
    from nfcodec.container.entropy import encode_symbols

    codes = {
        "geometric": np.array([0, 1, -1, 0, 2, 0, -3, 0, 1, 0, 0, -1] * 4, dtype=np.int64),
        "table": np.array([5, 5, 5, -6, -6, 5, 0, 5, -6, 5] * 3, dtype=np.int64),
        "constant": np.full(6, -2, dtype=np.int64),
    }
    streams = {name: encode_symbols(c) for name, c in codes.items()}
    steps = {"geometric": 0.25, "table": 2.0**-6, "constant": 3.0}
    shapes = {"geometric": [4, 12], "table": [30], "constant": [2, 3]}

    def qe(name: str, stream: bytes) -> dict[str, Any]:
        return {**t(name, shapes[name], "qe", steps[name]), "bytes": len(stream)}

    stage = {"width": 1, "tensors": [qe(n, streams[n]) for n in codes]}
    add("ok_qe", "a 1.1 file with qe tensors: a geometric, a table and a constant model",
        build(header_map([stage], version=[1, 1]), [(b"NSTG", b"".join(streams.values())), END]),
        stages_available=1, stages_total=1,
        stages=[{n: (c.astype(np.float32) * np.float32(steps[n])).reshape(shapes[n]) for n, c in codes.items()}])
    add("err_qe_no_bytes", "a qe tensor without 'bytes'",
        build(header_map([{"width": 1, "tensors": [t("constant", [2, 3], "qe", 3.0)]}], version=[1, 1]),
              [(b"NSTG", streams["constant"]), END]), "InvalidHeader")
    add("err_qe_no_step", "a qe tensor without 'step'",
        build(header_map([{"width": 1, "tensors": [{**t("constant", [2, 3], "qe"), "bytes": 3}]}], version=[1, 1]),
              [(b"NSTG", streams["constant"]), END]), "InvalidHeader")
    add("err_bytes_on_f32", "'bytes' on an f32 tensor",
        build(header_map([{"width": 1, "tensors": [{**t("a", [2], "f32"), "bytes": 8}]}]), BASE_BODY), "InvalidHeader")
    extra = streams["geometric"] + b"\x01\x00\x00\x00"
    stage_error("err_qe_extra_word", "a geometric qe stream with one word more than its codes use",
                build(header_map([{"width": 1, "tensors": [qe("geometric", extra)]}], version=[1, 1]), [(b"NSTG", extra), END]),
                "InvalidPayload")
    unknown = b"\x07" + streams["table"][1:]
    stage_error("err_qe_unknown_model", "a qe stream whose model kind is 7",
                build(header_map([{"width": 1, "tensors": [qe("table", unknown)]}], version=[1, 1]), [(b"NSTG", unknown), END]),
                "InvalidPayload")


# ---- writing and checking ----------------------------------------------------------------


def tensor_record(values: np.ndarray) -> dict[str, Any]:
    # Exact: every binary32 value survives the trip through a JSON double.
    raw = np.ascontiguousarray(values, dtype="<f4")
    return {"shape": list(raw.shape), "values": [float(x) for x in raw.reshape(-1)]}


def expectation(v: Vector, error: str | None, strict: bool = False) -> dict[str, Any]:
    if error is not None:
        return {"ok": False, "error": error}
    if strict:
        return {"ok": True}  # strict success means a complete file: the same as progressive
    out = {
        "ok": True,
        "complete": v.complete,
        "stages_available": v.stages_available,
        "stages_total": v.stages_total,
        "stages": [
            {"error": s} if isinstance(s, str) else {"tensors": {k: tensor_record(a) for k, a in s.items()}} for s in v.stages
        ],
        "ancillary": {k: [d.hex() for d in ds] for k, ds in v.ancillary.items()},
    }
    if v.transform_data is not None:  # only files whose index lists an NXFM chunk
        td = v.transform_data
        out["transform_data"] = {"error": td} if isinstance(td, str) else {"hex": td.hex()}
    return out


def observe(data: bytes, strict: bool) -> dict[str, Any]:
    """What the container reader makes of `data`, in the form of `expectation` (used by tests)."""
    from nfcodec import container
    from nfcodec.errors import NffError

    try:
        nff = container.read(data, strict=strict)
    except NffError as exc:
        return {"ok": False, "error": type(exc).__name__}
    if strict:
        return {"ok": True}
    stages: list[dict[str, Any]] = []
    for k in range(1, nff.stages_available + 1):
        try:
            stages.append({"tensors": {n: tensor_record(a) for n, a in nff.stage_tensors(k).items()}})
        except NffError as exc:
            stages.append({"error": type(exc).__name__})
    known = {"NHDR", "NSTG", "NEND", "NXFM"}
    ancillary: dict[str, list[str]] = {}
    for chunk in nff.chunks:
        if chunk.type not in known:
            ancillary.setdefault(chunk.type, []).append(bytes(chunk.data).hex())
    out: dict[str, Any] = {
        "ok": True,
        "complete": nff.complete,
        "stages_available": nff.stages_available,
        "stages_total": nff.stages_total,
        "stages": stages,
        "ancillary": ancillary,
    }
    if nff.header.transform_data is not None:
        try:
            out["transform_data"] = {"hex": nff.transform_data().hex()}
        except NffError as exc:
            out["transform_data"] = {"error": type(exc).__name__}
    return out


def all_vectors() -> list[Vector]:
    vectors = hand_vectors() + writer_vectors()
    names = [v.name for v in vectors]
    assert len(set(names)) == len(names), "duplicate vector names"
    return sorted(vectors, key=lambda v: v.name)


def manifest(vectors: list[Vector]) -> dict[str, Any]:
    import zstandard

    entries = []
    for v in vectors:
        entry = {
            "file": f"{v.name}.nff",
            "sha256": hashlib.sha256(v.data).hexdigest(),
            "size": len(v.data),
            "description": v.description,
            "progressive": expectation(v, v.error),
            "strict": expectation(v, v.strict_error, strict=True),
            "libzstd": v.libzstd,
        }
        entry.update(v.extra)
        entries.append(entry)
    return {
        "format": "NFF",
        "version": "1.0",
        "generator": "formats/vectors/make_vectors.py",
        "zstd_library": ".".join(map(str, zstandard.ZSTD_VERSION)),
        "vectors": entries,
    }


def dump_manifest(man: dict[str, Any]) -> str:
    """JSON with one line per vector: small, and a diff shows which vectors changed."""
    head = {k: v for k, v in man.items() if k != "vectors"}
    lines = [json.dumps(e, separators=(",", ":")) for e in man["vectors"]]
    return json.dumps(head, indent=1)[:-2] + ',\n "vectors": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def generate() -> dict[str, bytes]:
    """File name -> bytes of every vector plus vectors.json; fails if the reader disagrees."""
    vectors = all_vectors()
    files: dict[str, bytes] = {}
    man = manifest(vectors)
    for v, entry in zip(vectors, man["vectors"]):
        for mode in ("progressive", "strict"):
            seen = observe(v.data, strict=mode == "strict")
            if seen != entry[mode]:
                raise AssertionError(f"{v.name} ({mode}): expected {entry[mode]}, the reader gives {seen}")
        files[entry["file"]] = v.data
    files["vectors.json"] = dump_manifest(man).encode()
    transforms = load_transform_vectors()
    expected = transforms.manifest()
    transforms.check_against_reference(expected)
    files["transform_vectors.json"] = transforms.dump(expected)
    return files


def load_transform_vectors() -> Any:
    """transform_vectors.py beside this script (a script folder, not a package: load by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nff_transform_vectors", HERE / "transform_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: beside this script)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        stale = [n for n, d in files.items() if not (args.out / n).is_file() or (args.out / n).read_bytes() != d]
        extra = sorted(p.name for p in args.out.glob("*.nff") if p.name not in files)
        for name in stale + extra:
            print(f"differs: {name}", file=sys.stderr)
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.nff"):
        if old.name not in files:
            old.unlink()
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    print(f"wrote {len(files) - 1} vectors ({sum(len(d) for d in files.values())} bytes with vectors.json) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
