"""The inputs of the `.nff` fuzz tool (tools/fuzz_nff.py): the seed corpus (the conformance
vectors, tiny real encodes of every modality and coding, the attacks), one small file per attack
of issue 16 (`attack_cases`: the tests expect an outcome of each), and the files whose decodes
`fuzz_nff.py memory` measures (`memory_cases`: the largest decodes the limits allow, and bombs).

nfcodec is imported inside the builders, never at import time: the fuzz command imports this
module before atheris starts instrumenting nfcodec.
"""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "formats" / "vectors"


# ---- the seed corpus ---------------------------------------------------------------------------


# Tiny real encodes of every modality, field, transform family and coding (~2 minutes on 1 CPU).
ENCODES = [
    ("crop32.png", "img_grid.nff", "--steps 4 --stages 2 --transform none"),
    ("crop32.png", "img_qe.nff", "--steps 4 --size 2500 --stages 2 --transform none"),
    ("crop32.png", "img_siren.nff", "--steps 4 --arch siren --widths 4,8 --transform none"),
    ("crop16g.png", "img_grey_ordered.nff", "--steps 4 --stages 2 --transform ordered --size 2500"),
    ("crop24a.png", "img_rgba_rpp.nff", "--steps 4 --stages 2 --transform rpp --size 2500"),
    ("crop32.png", "img_gamma_spatial.nff", "--steps 4 --stages 3 --transform gamma0.5 --grow spatial --size 3000"),
    ("crop32.png", "img_affine_stagebpp.nff", "--steps 4 --stages 2 --transform halve --stage-bpp 12,20"),
    ("crop32.png", "img_invert_q16.nff", "--steps 4 --stages 2 --transform invert --dtype q16 --arch siren --widths 3,5"),
    ("crop16g.png", "img_standardise_f32.nff", "--steps 4 --transform standardise --dtype f32 --arch siren --widths 2,4"),
    ("clip", "clip.nff", "--steps 4 --frames 0:3 --resize 48x40 --stages 2 --transform none --size 3000"),
    ("clip", "clip_temporal.nff", "--steps 4 --frames 0:3 --resize 48x40 --stages 3 --grow temporal --transform none --size 3500"),
    ("clip", "clip_siren_spatial.nff",
     "--steps 4 --frames 0:2 --resize 32x24 --stages 2 --grow spatial --arch siren --widths 4,8 --transform invert"),
    ("mesh", "shape.nff", "--steps 4 --stages 2 --size 3KB"),
    ("mesh", "shape_siren.nff", "--steps 4 --arch siren --widths 4,8"),
]


def make_seeds(out: Path) -> None:
    """Seed corpus: the conformance vectors, tiny real encodes (ENCODES) and the attacks."""
    import imageio.v3 as iio
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(VECTORS.glob("*.nff")):
        shutil.copy(path, out / f"vector_{path.name}")
    work = out / ".inputs"
    work.mkdir(exist_ok=True)
    pixels = iio.imread(ROOT / "samples" / "kodim23.png")
    iio.imwrite(work / "crop32.png", pixels[200:232, 300:340])
    iio.imwrite(work / "crop16g.png", pixels[200:216, 300:324, 0])
    iio.imwrite(work / "crop24a.png", np.concatenate([pixels[100:124, 100:124], np.full((24, 24, 1), 200, np.uint8)], axis=2))
    sources = {"clip": ROOT / "samples" / "carphone_24f.mp4", "mesh": ROOT / "samples" / "bunny_6k.obj"}
    for source, name, options in ENCODES:
        src = sources.get(source, work / source)
        subprocess.run([sys.executable, "-m", "nfcodec", "encode", str(src), "-o", str(out / name), "-q", "--threads", "1",
                        *options.split()], check=True)
    shutil.rmtree(work)
    for name, data in attack_cases().items():
        (out / f"attack_{name}.nff").write_bytes(data)


# ---- the attacks of issue 16, each a file ------------------------------------------------------


def base_file() -> bytes:
    """A real decodable file: the siren image vector (2 stages, zstd, 4x3 pixels)."""
    return (VECTORS / "ok_siren_image.nff").read_bytes()


def attack_cases() -> dict[str, bytes]:
    """One small file per attack of issue 16, most built from a valid SIREN image (the vector
    ok_siren_image: 2 stages, zstd): the tests expect an outcome of each, and the seed corpus
    holds them."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm
    from nfcodec.decoding import pack_search_table

    base = bytearray(base_file())
    head = fm.read_head(base)[2]
    chunks = fm.walk(base)
    s1, s2 = chunks[1][0], chunks[2][0]
    body = [bytes(base[p : p + 12 + n]) for p, n, _ in chunks[1:]]  # stage 1, stage 2, NEND

    def with_body(*pieces: bytes) -> bytes:  # the chunks after the header replaced, the index rewritten
        return bytes(fm.reindex(base[:s1] + bytearray(b"".join(pieces))))

    def with_header(change: Callable[[dict[str, Any]], None]) -> bytes:  # a CRC-valid header, changed
        h = msgpack.unpackb(msgpack.packb(head), raw=False)
        change(h)
        return bytes(fm.with_head(base, msgpack.packb(h)))

    def with_keys(*items: tuple[str, bytes]) -> bytes:  # extra keys holding raw msgpack values
        packed = [(msgpack.packb(k), msgpack.packb(v)) for k, v in head.items()]
        return bytes(fm.with_head(base, fm.raw_map(packed + [(msgpack.packb(k), v) for k, v in items])))

    def shift_index(entry: int, by: int) -> Callable[[dict[str, Any]], None]:
        def change(h: dict[str, Any]) -> None:
            h["index"][entry][1] += by
        return change

    def shape_mismatch(h: dict[str, Any]) -> None:  # consistent with the bytes, not with the field
        t = next(t for t in h["stages"][0]["tensors"] if len(set(t["shape"])) == 2)
        t["shape"] = t["shape"][::-1]

    flipped, huge = bytearray(base), bytearray(base)
    flipped[s1 + 20] ^= 0x04
    huge[s1 : s1 + 4] = (0xFFFFFFF0).to_bytes(4, "big")
    side = head["signal"]["shape"]
    srch_bomb = fm.zstd_header(1 << 30, window_log=27) + fm.rle_blocks(1 << 30)  # 32 KB of frame, 1 GiB of table
    table = pack_search_table({"rows": [{"transform": "identity", "lr": 0.01, "psnr": 30.5, "chosen": True}],
                               "choice": "identity"})
    cases = {
        "truncated_in_stage2": bytes(base[: s2 + 20]),
        "bit_flip_stage1": bytes(flipped),
        "reordered_stages": with_body(body[1], body[0], body[2]),
        "duplicated_stage": with_body(body[0], body[0], body[1], body[2]),
        "huge_chunk_length": bytes(huge),
        "huge_header_length": bytes(base[:8]) + ((1 << 20) + 1).to_bytes(4, "big") + bytes(base[12:40]),
        "index_past_end": with_header(shift_index(-1, 1 << 20)),
        "index_overlap": with_header(shift_index(1, -4)),
        "shape_mismatch": with_header(shape_mismatch),
        "extent_out_of_range": with_header(lambda h: h["stages"][0].update(extent=[[0, side[0] + 1], [0, side[1]]])),
        "signal_too_large": with_header(lambda h: h["signal"].update(shape=[1 << 15, 1 << 15])),
        # valid: 4096 x 4096 pixels from 9 parameters (the fuzz target renders one block of it)
        "signal_large": with_header(lambda h: h["signal"].update(shape=[1 << 12, 1 << 12])),
        # a stage of 16 MiB whose frame declares that size (above its 1 MiB window: libzstd's
        # streaming decoder checks the size only at the frame's end) and expands to 1 GiB
        "zstd_lying_bomb": _test_file([{"width": 1, "tensors": [{"name": "a", "shape": [1 << 22], "dtype": "f32"}]}],
                                      [fm.zstd_header(1 << 24, window_log=20) + fm.rle_blocks(1 << 30)], "zstd"),
        "zstd_declares_huge": with_body(fm.frame(b"NSTG", fm.zstd_header(1 << 40, window_log=20) + fm.rle_blocks(1 << 20)),
                                        body[1], body[2]),
        "search_table_bomb": with_body(body[0], body[1], fm.frame(b"srch", srch_bomb), body[2]),
        "search_table_valid": with_body(body[0], body[1], fm.frame(b"srch", table), body[2]),
        "msgpack_deep": with_keys(("x", b"\x91" * 100_000 + b"\xc0")),
        # 1,023 nested arrays each declaring 65,535 entries, cut short: msgpack nests 1,024
        # levels while parsing (the 16-level limit is checked on the parsed value)
        "msgpack_deep_declared": with_keys(("x", b"\xdc\xff\xff" * 1023)),
        # 15 arrays of 65,535 empty arrays: a 1 MiB header of 983,040 objects
        "msgpack_enormous": with_keys(*[(f"x{i}", b"\xdc\xff\xff" + b"\x90" * 65535) for i in range(15)]),
        "unknown_critical_chunk": with_body(body[0], body[1], fm.frame(b"XTRA", b"?"), body[2]),
        "unknown_ancillary_chunk": with_body(body[0], body[1], fm.frame(b"xtRa", b"?" * 9), body[2]),
    }
    cases.update(_qe_attacks(head, base))
    return cases


def _test_file(stages: list[dict[str, Any]], payloads: list[bytes], compression: str = "none",
               version: tuple[int, int] = (1, 0)) -> bytes:
    """A file of the container's test modality (no field: only the reader decodes it)."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm

    head = {"version": list(version), "modality": "test", "signal": {}, "transform": {"id": 0, "name": "identity", "params": {}},
            "field": {"arch": "test", "config": {}}, "compression": compression, "stages": stages, "index": []}
    body = b"".join(fm.frame(b"NSTG", p) for p in payloads) + fm.frame(b"NEND", b"")
    return bytes(fm.reindex(bytearray(b"\x8bNFF\r\n\x1a\n" + fm.frame(b"NHDR", msgpack.packb(head)) + body)))


def _qe_attacks(head: dict[str, Any], base: bytearray) -> dict[str, bytes]:
    """Stage 1's first tensor as a hostile qe stream (an alphabet beyond max(256, 4N), a word
    left after a constant model, table weights at 2^38, a zero last word), and stage 1 as
    constant streams of 2^28 + 4 codes in all (above the file's limit of coded elements)."""
    import msgpack
    import zstandard

    from nfcodec.container import fuzz_mutators as fm

    pos, length, _ = fm.walk(base)[1]
    raw = zstandard.ZstdDecompressor().decompress(bytes(base[pos + 8 : pos + 8 + length]))
    first = head["stages"][0]["tensors"][0]
    size = {"f32": 4, "f16": 2}[first["dtype"]] * math.prod(first["shape"])
    word = b"\x01\x00\x00\x00"
    streams = {
        "qe_alphabet_too_large": bytes([1]) + fm.uvarint(0) + fm.uvarint(65537) + bytes([0, 128]) + word,
        "qe_leftover_word": bytes([0]) + fm.uvarint(0) + fm.uvarint(1) + word,
        "qe_table_overflow": bytes([2]) + fm.uvarint(0) + fm.uvarint(2) + bytes([24]) + fm.uvarint(1 << 14) * 2 + word,
        "qe_zero_last_word": bytes([1]) + fm.uvarint(0) + fm.uvarint(3) + bytes([1, 100]) + b"\x05\x00\x00\x00" + bytes(4),
    }

    def with_stage1(change: Callable[[list[dict[str, Any]]], None], payload: bytes) -> bytes:
        h = msgpack.unpackb(msgpack.packb(head), raw=False)
        h["version"] = [1, 1]
        change(h["stages"][0]["tensors"])
        data = fm.with_head(base, msgpack.packb(h))
        p = fm.walk(data)[1][0]
        stage = fm.frame(b"NSTG", zstandard.ZstdCompressor(write_content_size=True).compress(payload))
        return bytes(fm.reindex(data[:p] + bytearray(stage) + data[p + 12 + length :]))

    out = {name: with_stage1(lambda tensors, n=len(stream): tensors[0].update(dtype="qe", step=1.0, bytes=n), stream + raw[size:])
           for name, stream in streams.items()}
    constant = [{"name": f"c{i}", "shape": [1 << 26], "dtype": "qe", "step": 1.0, "bytes": 3} for i in range(4)]
    constant.append({"name": "d", "shape": [4], "dtype": "qe", "step": 1.0, "bytes": 3})
    def all_constant(tensors: list[dict[str, Any]]) -> None:
        tensors[:] = constant

    out["qe_too_many_codes"] = with_stage1(all_constant, bytes([0, 0, 1]) * 5)
    return out


# ---- memory: the largest decodes the limits allow, and bombs ----------------------------------------


def field_file(arch: str, config: dict[str, Any], widths: list[int], signal: dict[str, Any], modality: str = "image",
               declared: Callable[[int, str, list[int]], list[int]] | None = None) -> bytes:
    """A file whose every tensor is a 3-byte qe stream (a constant model): the smallest file
    that declares a field of this size. `declared(stage, name, shape)` may change the shapes
    the header declares."""
    import msgpack

    from nfcodec.container import fuzz_mutators as fm
    from nfcodec.registry import FIELDS

    entry = FIELDS.by_name(arch)
    cls = entry.load()
    clean = cls.validate_config(config, tuple(widths))
    stages, body = [], b""
    for k in range(1, len(widths) + 1):
        shapes = cls.stage_shapes(tuple(widths), clean, k)
        stages.append({"width": widths[k - 1], "tensors": [
            {"name": n, "shape": declared(k, n, list(v)) if declared else list(v), "dtype": "qe", "step": 1.0, "bytes": 3}
            for n, v in shapes.items()]})
        body += fm.frame(b"NSTG", bytes([0, 0, 1]) * len(shapes))
    body += fm.frame(b"NEND", b"")
    head = {"version": [1, 1], "modality": modality, "signal": signal, "transform": {"id": 0, "name": "identity", "params": {}},
            "field": {"arch": arch, "id": entry.id, "config": config}, "compression": "none", "stages": stages, "index": []}
    data = b"\x8bNFF\r\n\x1a\n" + fm.frame(b"NHDR", msgpack.packb(head)) + body
    return bytes(fm.reindex(bytearray(data)))


def _image(side: int) -> dict[str, Any]:
    return {"schema": "image", "schema_version": 1, "shape": [side, side], "channels": 1, "bit_depth": 8}


def memory_cases() -> dict[str, tuple[str, bytes]]:
    """name -> (operation, file): "stage" (read, stage 1's tensors), "decode" (decode_bytes,
    every stage), "render" (and its widest width), "info"."""
    attacks = attack_cases()
    from nfcodec.container import fuzz_mutators as fm

    siren = {"in_dim": 2, "out_dim": 1, "hidden_layers": 16, "omega": 30.0}
    q8_quarters = [{"name": f"a{i}", "shape": [1 << 26], "dtype": "q8", "step": 1.0} for i in range(4)]
    return {
        "zstd_lying_bomb": ("stage", attacks["zstd_lying_bomb"]),  # 1 GiB from 33 KB, declared as 16 MiB
        "zstd_declares_huge": ("stage", attacks["zstd_declares_huge"]),
        "search_table_bomb": ("info", attacks["search_table_bomb"]),  # 1 GiB from 33 KB
        "msgpack_enormous": ("decode", attacks["msgpack_enormous"]),  # 983,040 arrays in a 1 MiB header
        "msgpack_deep_declared": ("decode", attacks["msgpack_deep_declared"]),
        "qe_too_many_codes": ("decode", attacks["qe_too_many_codes"]),
        # a SIREN of 2^27 + 2^20 parameters: refused before its allocation (MAX_FIELD_PARAMS)
        "field_over_limit": ("decode", field_file("siren", siren, [1450, 2900], _image(2))),
        # the same with one tensor declared [1, 1]: refused before the field is allocated
        "field_shapes_mismatch": ("decode", field_file("siren", siren, [1445, 2890], _image(2),
                                                       declared=lambda k, n, shape: [1, 1] if (k, n) == (2, "out.w") else shape)),
        # the largest SIREN the limit allows (2^27 parameters, 0.5 GiB), from a 5 KB file
        "field_at_limit": ("decode", field_file("siren", siren, [1445, 2890], _image(2))),
        # the largest stage the limits allow: 2^28 q8 codes (1 GiB as binary32) from an 8 KB frame
        "stage_at_limit": ("stage", _test_file([{"width": 1, "tensors": q8_quarters}], [fm.zstd_header(1 << 28, window_log=20)
                                                                                        + fm.rle_blocks(1 << 28)], "zstd")),
        # as many q8 codes, 64 fewer, and 128 qe codes whose streams take 3 bytes: over the
        # stage-elements limit, although the stage's raw size is within its own
        "stage_elements_over_limit": ("stage", _test_file([{"width": 1, "tensors": [
            *q8_quarters[:3], {"name": "a3", "shape": [(1 << 26) - 64], "dtype": "q8", "step": 1.0},
            {"name": "e", "shape": [128], "dtype": "qe", "step": 1.0, "bytes": 3}]}],
            [fm.zstd_header((1 << 28) - 61, window_log=20) + fm.rle_blocks((1 << 28) - 61)], "zstd", version=(1, 1))),
        # one layer of 2^20 units rendered on 16x16 pixels (MAX_ACTIVATIONS: in pieces of 32)
        "wide_layer_render": ("render", field_file("siren", {"in_dim": 2, "out_dim": 1, "hidden_layers": 0, "omega": 30.0},
                                                   [1 << 20], _image(16))),
    }
