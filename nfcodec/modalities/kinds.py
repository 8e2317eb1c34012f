"""What kind of signal a file holds, from its first bytes and its name, so that an input `nfc`
cannot encode gets a message that says what it is and what `nfc` does encode."""
from __future__ import annotations

from pathlib import Path

from ..container.chunks import SIGNATURE as NFF_SIGNATURE

# What `nfc encode` reads today; every message about an unsupported input names it.
ENCODABLE = ("still images (PNG, JPEG, WebP, TIFF, BMP, GIF), videos (MP4, MOV, MKV, WebM, AVI, Y4M, raw YUV 4:2:0) "
             "and triangle meshes (OBJ, PLY, STL, OFF)")

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".y4m", ".yuv", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"})
MESH_SUFFIXES = frozenset({".obj", ".ply", ".stl", ".off", ".glb", ".gltf", ".fbx", ".dae", ".3ds"})


def sniff_kind(path: Path) -> str:
    """"nff", "video", "mesh" or "other" (an image, or something imageio may still read)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        head = b""
    if head.startswith(NFF_SIGNATURE):
        return "nff"
    if head[4:8] == b"ftyp" or head.startswith((b"\x1aE\xdf\xa3", b"YUV4MPEG2")) or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        # ISO media (MP4, MOV; but AVIF and HEIC images are ISO media too), Matroska, Y4M, AVI
        if head[4:8] != b"ftyp" or head[8:12] not in (b"avif", b"avis", b"heic", b"heix", b"mif1"):
            return "video"
    if head.startswith((b"ply\n", b"ply\r\n", b"OFF\n", b"OFF\r\n", b"glTF")):
        return "mesh"
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in MESH_SUFFIXES:
        return "mesh"
    return "other"


def unsupported_message(path: Path, kind: str) -> str | None:
    """The one-line error for an input of a kind `nfc encode` does not encode, else None."""
    if kind == "nff":
        return f"{path} is already an .nff file: decode it with 'nfc decode'; nfc encode reads {ENCODABLE}"
    if kind == "mesh" and path.suffix.lower() not in (".obj", ".ply", ".stl", ".off"):
        return f"{path} is a 3D scene or mesh format nfc does not read: convert it to OBJ, PLY, STL or OFF"
    return None
