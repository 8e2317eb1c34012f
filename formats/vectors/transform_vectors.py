"""Conformance vectors for the transforms of formats/annex-transforms.md, as `transform_vectors.json`.

Written by make_vectors.py (which imports this file by path). The expectations come from a
deliberately naive scalar implementation of the spec text below (Python integers, explicit
loops, the J-shells walked cell by cell rather than by formula); make_vectors refuses to write
them if the reference implementation in nfcodec.transforms disagrees.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np

MASK64 = (1 << 64) - 1
# (seed, N): small cases to debug against, the extremes of the seed, one 512 x 512 image.
RPP_CASES = [(0, 1), (0, 2), (0, 10), (7, 10), (0, 1000), (0xFFFFFFFF, 1000), (0, 512 * 512)]
SPLITMIX_INPUTS = [0, 1, 2, 0xFFFFFFFFFFFFFFFF, (7 << 32) + 1]
J_SHELL_SHAPES = [(1, 1), (1, 5), (5, 1), (2, 2), (3, 3), (2, 4), (4, 2), (4, 6), (5, 3)]
# Grey 8-bit, with ties (equal samples keep their index order).
ORDERED_GREY = [[200, 10, 10, 90], [0, 255, 90, 10], [37, 200, 5, 128]]
# RGB 8-bit; pixels with equal channel sums are identical, so binary32 rounding cannot reorder them.
ORDERED_RGB = [[[255, 0, 0], [0, 0, 0], [10, 20, 30]], [[1, 2, 3], [10, 20, 30], [200, 200, 200]]]


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def rpp_permutation(seed: int, n: int) -> list[int]:
    keys = [splitmix64(((seed << 32) + i + 1) & MASK64) for i in range(n)]
    return sorted(range(n), key=lambda i: (keys[i], i))


def j_shell_path(height: int, width: int) -> list[list[int]]:
    """Walk the shells: odd ones down column s then left along row s, even ones reversed."""
    path = [[-1] * width for _ in range(height)]
    k = 0
    for s in range(max(height, width)):
        cells = [(r, s) for r in range(min(s, height - 1) + 1)] if s < width else []
        cells += [(s, c) for c in range(min(s, width) - 1, -1, -1)] if s < height else []
        if s % 2 == 0:
            cells.reverse()
        for r, c in cells:
            path[r][c] = k
            k += 1
    assert k == height * width and all(v >= 0 for row in path for v in row)
    return path


def ordered_permutation(pixels: list[list[list[int]]]) -> list[int]:
    """8-bit pixels [H][W][C] -> perm (distinct channel sums only where pixels differ)."""
    height, width = len(pixels), len(pixels[0])
    flat = [px for row in pixels for px in row]
    order = sorted(range(len(flat)), key=lambda q: (sum(flat[q]), q))
    path = j_shell_path(height, width)
    return [order[path[r][c]] for r in range(height) for c in range(width)]


def perm_sha256(perm: list[int] | np.ndarray) -> str:
    return hashlib.sha256(np.asarray(perm, dtype="<u4").tobytes()).hexdigest()


def manifest() -> dict[str, Any]:
    rpp = []
    for seed, n in RPP_CASES:
        perm = rpp_permutation(seed, n)
        entry: dict[str, Any] = {"seed": seed, "n": n, "first": perm[:8], "last": perm[-8:], "sha256": perm_sha256(perm)}
        if n <= 10:
            entry["perm"] = perm
            entry["keys"] = [f"{splitmix64((seed << 32) + i + 1):016x}" for i in range(n)]
        rpp.append(entry)
    grey = [[[v] for v in row] for row in ORDERED_GREY]
    return {
        "description": "formats/nff.md section 11: splitmix64, rpp permutations, J-shell paths, ordered permutations",
        "splitmix64": [{"x": f"{x:016x}", "out": f"{splitmix64(x):016x}"} for x in SPLITMIX_INPUTS],
        "rpp": rpp,
        "j_shell": [{"height": h, "width": w, "path": j_shell_path(h, w)} for h, w in J_SHELL_SHAPES],
        "ordered": [
            {"bit_depth": 8, "pixels": pixels, "perm": ordered_permutation(pixels)} for pixels in (grey, ORDERED_RGB)
        ],
    }


def check_against_reference(man: dict[str, Any]) -> None:
    """Raise AssertionError where nfcodec.transforms disagrees with these expectations."""
    from nfcodec import transforms

    for e in man["splitmix64"]:
        got = int(transforms.splitmix64(np.array([int(e["x"], 16)], np.uint64))[0])
        assert got == int(e["out"], 16), ("splitmix64", e)
    for e in man["rpp"]:
        perm = transforms.rpp_permutation(e["seed"], e["n"])
        assert perm_sha256(perm) == e["sha256"] and perm[:8].tolist() == e["first"], ("rpp", e["seed"], e["n"])
    for e in man["j_shell"]:
        got = transforms.j_shell_path(e["height"], e["width"]).reshape(e["height"], e["width"])
        assert got.tolist() == e["path"], ("j_shell", e["height"], e["width"])
    for e in man["ordered"]:
        pixels = np.asarray(e["pixels"], dtype=np.uint8)
        # normalised as the image codec does (modalities.image.ImageSignal.values)
        values = pixels.astype(np.float32) * np.float32(1.0 / 255)
        got = transforms.OrderedPermutation.fit(values).perm
        assert got.tolist() == e["perm"], ("ordered", e["pixels"])


def container_vectors(mv: Any) -> list[Any]:
    """The NXFM chunk's `.nff` vectors (section 11.6), built with make_vectors' framing helpers
    (`mv` is that module) and hand-made zstd frames, so no libzstd is involved."""
    perm = struct.pack("<2I", 1, 0)
    xfm = {"id": 3, "name": "ordered", "params": {"data_bytes": 8}}
    nxfm = (b"NXFM", mv.raw_zstd(perm))
    body = [nxfm, *mv.BASE_BODY]

    def head(**params: Any) -> dict[str, Any]:
        return mv.header_map(mv.BASE_STAGES, transform={**xfm, "params": params} if params else xfm)

    def vec(name: str, description: str, data: bytes, error: str | None = None, **kw: Any) -> Any:
        if error is not None:
            kw.setdefault("strict_error", error)
        else:
            kw = {"stages_available": 1, "stages_total": 1, "stages": mv.BASE_VALUES, **kw}
        return mv.Vector(name, description, data, error=error, **kw)

    good = mv.build(head(), body)
    unsized = mv.build(mv.header_map(mv.BASE_STAGES, transform={**xfm, "params": {}}), body)
    return [
        vec("ok_transform_data", "an NXFM chunk (a permutation of 2 positions) before the stage", good, transform_data=perm),
        vec("prefix_in_transform_data", "a prefix ending inside the NXFM chunk", good[: mv.header_end(good) + 14],
            strict_error="TruncatedFile", stages_available=0, stages=[], complete=False, transform_data="TruncatedFile"),
        vec("err_transform_data_twice", "two NXFM chunks", mv.build(head(), [nxfm, *body]), "InvalidChunkLayout"),
        vec("err_transform_data_after_stage", "the NXFM chunk after the stage",
            mv.build(head(), [mv.BASE_BODY[0], nxfm, mv.END]), "InvalidChunkLayout"),
        vec("err_transform_data_unsized", "an NXFM chunk without transform.params.data_bytes", unsized, "InvalidHeader"),
        vec("err_transform_data_missing", "transform.params.data_bytes without an NXFM chunk", mv.base(transform=xfm), "InvalidHeader"),
        vec("err_transform_data_huge", "transform.params.data_bytes 2^28 + 1",
            mv.build(head(data_bytes=(1 << 28) + 1), body), "LimitExceeded"),
        vec("err_transform_data_size_lie", "the NXFM frame holds 8 bytes, transform.params.data_bytes says 12",
            mv.build(head(data_bytes=12), body), transform_data="InvalidPayload"),
    ]


def dump(man: dict[str, Any]) -> bytes:
    """One line per entry: a diff shows which case changed."""
    parts = []
    for key, value in man.items():
        if isinstance(value, list):
            rows = ",\n".join("  " + _compact(v) for v in value)
            parts.append(f' "{key}": [\n{rows}\n ]')
        else:
            parts.append(f' "{key}": {_compact(value)}')
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode()


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


__all__ = ["manifest", "check_against_reference", "dump", "splitmix64", "rpp_permutation", "j_shell_path"]
