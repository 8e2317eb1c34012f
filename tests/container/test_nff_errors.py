"""One named test per error the container raises (formats/nff.md, sections 2 to 8)."""
from __future__ import annotations

import inspect
import struct

import msgpack
import numpy as np
import pytest

from nfcodec import container, errors
from nfcodec.errors import (
    BadSignature,
    ChunkChecksumError,
    InvalidChunkLayout,
    InvalidHeader,
    InvalidPayload,
    LimitExceeded,
    NffError,
    TruncatedFile,
    UnknownCriticalChunk,
    UnsupportedVersion,
)

# Raised above the container (registry lookups in the codec), so not tested here.
NOT_FROM_CONTAINER = {"UnknownCodecId"}


def nff_error_classes() -> set[str]:
    return {n for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, NffError) and c is not NffError}


def test_every_container_error_has_a_test_here():
    tested = {n[len("test_"):] for n in globals() if n.startswith("test_")}
    tested = {"".join(p.title() for p in n.split("_")) for n in tested}
    missing = nff_error_classes() - NOT_FROM_CONTAINER - tested
    assert not missing, f"no test named after {missing}"


def test_errors_are_data_errors():
    for name in nff_error_classes() | {"NffError"}:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.NfcError) and cls.exit_status == errors.ExitStatus.DATA_ERROR


def test_bad_signature(mv):
    good = mv.base()
    for data in (b"", b"\x89PNG\r\n\x1a\n" + good[8:], b"\x0b" + good[1:], good[:7] + b"\r\n" + good[8:], b"NFF"):
        with pytest.raises(BadSignature):
            container.read(data)
        with pytest.raises(BadSignature):
            container.read_header(data)


def test_truncated_file(mv):
    good = mv.base()
    end = mv.header_end(good)
    for n in (1, 7, 8, 15, 16, end - 1):  # inside the signature, the chunk prefix, the header
        with pytest.raises(TruncatedFile):
            container.read(good[:n])
    for n in (end, end + 5, len(good) - 1):  # header present: only strict mode refuses
        assert not container.read(good[:n]).complete
        with pytest.raises(TruncatedFile):
            container.read(good[:n], strict=True)


def test_chunk_checksum_error(mv):
    good = mv.base()
    stage_data = mv.header_end(good) + 8
    for at in (20, stage_data, len(good) - 1):  # header data, stage data, NEND's CRC
        bad = good[:at] + bytes([good[at] ^ 0x10]) + good[at + 1 :]
        with pytest.raises(ChunkChecksumError):
            container.read(bad)


def test_unknown_critical_chunk(mv):
    data = mv.build(mv.header_map(mv.BASE_STAGES), [(b"XTRA", b"?"), *mv.BASE_BODY])
    with pytest.raises(UnknownCriticalChunk):
        container.read(data)
    # Known from the header alone: refused even in a prefix that ends before the chunk.
    with pytest.raises(UnknownCriticalChunk):
        container.read(data[: mv.header_end(data)])


def test_limit_exceeded(mv):
    good = mv.base()
    cases = [
        good[:8] + struct.pack(">I", (1 << 20) + 1) + good[12:24],  # header length, with 24 bytes only
        mv.build(mv.header_map(mv.BASE_STAGES), [], [["NSTG", 0, (1 << 28) + 1], ["NEND", (1 << 28) + 13, 0]]),
        mv.build(mv.header_map([{"width": i, "tensors": []} for i in range(1, 66)]), [(b"NSTG", b"")] * 65 + [mv.END]),
        mv.build(mv.header_map([{"width": 1, "tensors": [mv.t(str(i), [], "f32") for i in range(65)]}]), [(b"NSTG", bytes(260)), mv.END]),
        mv.build(mv.header_map([{"width": 1, "tensors": [mv.t("a", [1] * 5, "f32")]}]), [(b"NSTG", bytes(4)), mv.END]),
        mv.build(mv.header_map([{"width": 1, "tensors": [mv.t("a", [0, (1 << 26) + 1], "f32")]}]), [(b"NSTG", b""), mv.END]),
        mv.build(mv.header_map([{"width": 1, "tensors": [mv.t("a", [1 << 13, 1 << 14], "f16")]}], "zstd"), [(b"NSTG", b""), mv.END]),
        mv.build(mv.header_map([{"width": 1, "tensors": [mv.t("a", [1 << 13, 1 << 13], "f32")]}] + [{"width": k, "tensors": [mv.t("a", [1 << 26], "f32")]} for k in range(2, 6)], "zstd"),
                 [(b"NSTG", b"")] * 5 + [mv.END]),  # 5 x 2^28 bytes > 2^30 in all
        mv.build(mv.header_map(mv.BASE_STAGES), [(b"teXt", b"")] * 256 + mv.BASE_BODY),  # 258 chunks
    ]
    for data in cases:
        with pytest.raises(LimitExceeded):
            container.read(data)


def test_invalid_header(mv):
    hm, t = mv.header_map, mv.t
    stage = mv.BASE_STAGES
    body = mv.BASE_BODY
    bad_headers = [
        hm(stage, modality=""),
        hm(stage, modality="x" * 65),
        hm(stage, modality="a\tb"),
        hm(stage, signal=[]),
        hm(stage, signal={"x": float("inf")}),
        hm(stage, signal={"x": b"raw"}),
        hm(stage, transform={"id": True, "name": "identity"}),
        hm(stage, transform={"id": 65536, "name": "identity"}),
        hm(stage, transform={"id": -1, "name": "identity"}),
        hm(stage, transform={"id": 0, "name": "identity", "params": []}),
        hm(stage, field={"arch": "test"}),
        hm(stage, field={"arch": "test", "config": {}, "id": 1.0}),
        hm(stage, compression="lz4"),
        hm(stage, encoder=[]),
        hm(stage, version=[1]),
        hm(stage, version=[1, -1]),
        hm(stage, version=[True, 0]),
        hm([]),
        hm([{"width": 0, "tensors": []}]),
        hm([{"width": 1}]),
        hm([{"width": 1, "tensors": [t("a", [2], "f32"), t("a", [2], "f32")]}]),
        hm([{"width": 1, "tensors": [t("a", [2.0], "f32")]}]),
        hm([{"width": 1, "tensors": [t("a", [-2], "f32")]}]),
        hm([{"width": 1, "tensors": [t("a", [2], "q16", 1)]}]),  # an integer step
        hm([{"width": 1, "tensors": [t("a", [2], "q16", 2.0**-127)]}]),
        hm([{"width": 1, "tensors": [t("a", [2], "q16", 2.0**65)]}]),
        hm([{"width": 1, "tensors": [t("a", [2], "f16", 1.0)]}]),
        hm([{"width": 1, "tensors": [{"shape": [2], "dtype": "f32"}]}]),
    ]
    for head in bad_headers:
        with pytest.raises(InvalidHeader):
            container.read(mv.build(head, body))
    raw_headers = [
        msgpack.packb([1, 0]),
        b"\xc1",
        b"",
        msgpack.packb({**hm(stage), "index": [["NSTG", 0, 8], ["NEND", 20, 0]]}) + b"\x00",
        msgpack.packb({1: 2}),
        b"\x81\xa7version\xc7\x00\x05",  # an empty ext value
        b"\x81\xa7version\xd6\xff\x00\x00\x00\x00",  # a timestamp
        b"\x81\xa7version\xa2\xff\xfe",  # invalid UTF-8
    ]
    for head in raw_headers:
        with pytest.raises(InvalidHeader):
            container.read(mv.build(head, []))
    bad_index = [
        [["NSTG", 0, 8]],
        [["NSTG", 0, 8], ["NEND", 20]],
        [["NSTG", 0, True], ["NEND", 20, 0]],
        [["NS1G", 0, 8], ["NEND", 20, 0]],
        [["NSTG", 0, -8], ["NEND", 20, 0]],
        "index",
    ]
    for index in bad_index:
        with pytest.raises((InvalidHeader, InvalidChunkLayout)) as info:
            container.read(mv.build(hm(stage), body, index))
        assert info.type is InvalidHeader or index == [["NSTG", 0, 8]]


def test_invalid_header_duplicate_keys_at_any_depth(mv):
    head = msgpack.packb({**mv.header_map(mv.BASE_STAGES), "index": [["NSTG", 0, 8], ["NEND", 20, 0]]})
    # {"signal": {}} becomes {"signal": {"a": 1, "a": 2}}: a lenient parser keeps one of them.
    nested = head.replace(b"\xa6signal\x80", b"\xa6signal\x82\xa1a\x01\xa1a\x02")
    assert nested != head
    for data in (mv.build(b"\x89" + head[1:] + b"\xa7version\x92\x01\x00", mv.BASE_BODY), mv.build(nested, mv.BASE_BODY)):
        with pytest.raises(InvalidHeader, match="duplicate"):
            container.read(data)


def test_invalid_chunk_layout(mv):
    hm, good = mv.header_map, mv.base()
    sig, frame, end = mv.SIG, mv.frame, mv.END
    cases = [
        good + b"\x00",  # trailing byte
        sig + frame(b"NSTG", b"") + good[8:],  # first chunk is not NHDR
        sig + frame(b"N!DR", b"") + good[8:],  # not four letters
        mv.build(hm(mv.BASE_STAGES), [], [["NSTG", 4, 8], ["NEND", 24, 0]]) + bytes(4) + frame(*mv.BASE_BODY[0]) + frame(*end),
        mv.build(hm(mv.BASE_STAGES), [], [["NSTG", 0, 8], ["NEND", 16, 0]]) + frame(*mv.BASE_BODY[0]) + frame(*end),  # overlap
        mv.build(hm(mv.BASE_STAGES), [], [["NSTG", 0, 8], ["NEND", 20, 0]]) + frame(b"NSTg", bytes(8)) + frame(*end),
        mv.build(hm(mv.BASE_STAGES), [], [["NSTG", 0, 8], ["NEND", 20, 0]]) + frame(b"NSTG", bytes(9)) + frame(*end),
        mv.build(hm(mv.BASE_STAGES), [mv.BASE_BODY[0], (b"NEND", b"x")]),
        mv.build(hm(mv.BASE_STAGES), [end, *mv.BASE_BODY]),
        mv.build(hm(mv.BASE_STAGES), [(b"NHDR", b""), *mv.BASE_BODY]),
        mv.build(hm(mv.BASE_STAGES), [mv.BASE_BODY[0], mv.BASE_BODY[0], end]),
        mv.build(hm(mv.BASE_STAGES), [(b"NSTG", bytes(4)), end]),  # compression none: wrong size
    ]
    for data in cases:
        with pytest.raises(InvalidChunkLayout):
            container.read(data)


def test_invalid_payload(mv):
    zstd = mv.header_map(mv.BASE_STAGES, "zstd")
    payload = mv.f32(0.5, -1.0)
    frames = [
        mv.raw_zstd(payload, 9),  # declares more
        mv.raw_zstd(payload, 7),  # declares less
        mv.raw_zstd(payload) + b"\x00",
        mv.raw_zstd(payload) + mv.raw_zstd(b""),  # two frames
        b"\x28\xb5\x2f\xfd",  # magic only
        b"",
        b"\x28\xb5\x2f\xfd\x23\x01\x00\x00\x00\x08" + (1 | 8 << 3).to_bytes(3, "little") + payload,  # dictionary 1
        b"\x28\xb5\x2f\xfd\x00\x00" + (1 | 8 << 3).to_bytes(3, "little") + payload,  # no content size
        # Window_Descriptor 0x89: 2^27 + 2^24 bytes; 0xa0: 2^30 (with a 4-byte content size of 8)
        b"\x28\xb5\x2f\xfd\x80\x89" + struct.pack("<I", 8) + (1 | 8 << 3).to_bytes(3, "little") + payload,
        b"\x28\xb5\x2f\xfd\x80\xa0" + struct.pack("<I", 8) + (1 | 8 << 3).to_bytes(3, "little") + payload,
        mv.raw_zstd(payload)[:-1],  # truncated block
    ]
    for data in frames:
        nff = container.read(mv.build(zstd, [(b"NSTG", data), mv.END]), strict=True)
        with pytest.raises(InvalidPayload):
            nff.stage_tensors(1)
    for dtype, raw in [("f16", b"\x00\x7e\x00\x00"), ("f16", b"\x00\xfc\x00\x00"), ("f32", mv.f32(float("-inf"), 0.0))]:
        head = mv.header_map([{"width": 1, "tensors": [mv.t("a", [2], dtype)]}])
        nff = container.read(mv.build(head, [(b"NSTG", raw), mv.END]))
        with pytest.raises(InvalidPayload, match="non-finite"):
            nff.stage_tensors(1)


def test_invalid_payload_is_per_stage(mv):
    """A bad stage 2 does not stop a progressive decoder from using stage 1."""
    head = mv.header_map([{"width": 1, "tensors": [mv.t("a", [1], "f32")]}, {"width": 2, "tensors": [mv.t("a", [1], "f32")]}])
    nff = container.read(mv.build(head, [(b"NSTG", mv.f32(1.0)), (b"NSTG", mv.f32(float("nan"))), mv.END]))
    assert nff.stage_tensors(1)["a"].tolist() == [1.0]
    with pytest.raises(InvalidPayload):
        nff.stage_tensors(2)


def test_unsupported_version(mv):
    for version in ([0, 9], [2, 0], [255, 255]):
        with pytest.raises(UnsupportedVersion):
            container.read(mv.base(version=version))
    # The version is checked before the rest of the header: a 2.x header may mean anything.
    data = mv.build(msgpack.packb({"version": [2, 0], "stages": "elsewhere", "x": float("nan")}), [])
    with pytest.raises(UnsupportedVersion):
        container.read(data)
    assert container.read(mv.base(version=[1, 99])).complete


def test_stage_tensors_argument_checks(small_file):
    nff = container.read(small_file)
    for k in (0, nff.stages_available + 1, -1):
        with pytest.raises(ValueError):
            nff.stage_tensors(k)
    assert all(np.isfinite(v).all() for v in nff.stage_tensors(1).values())
