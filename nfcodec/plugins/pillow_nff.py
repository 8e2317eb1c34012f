"""A Pillow plugin that reads `.nff` images and clips (registered by `import nfcodec`).

    import nfcodec
    from PIL import Image
    im = Image.open("x.nff")    # reads and checks the file; decodes nothing yet
    im.nff_width = 1            # optional: decode 1 stage (default, or None: every complete stage)
    im.convert("RGB").save("x.png"); np.asarray(im)

Width: `im.nff_width` (an int) is the one way to choose the stage count. Setting it checks the
range (nfcodec's UsageError outside 1..stages) and updates `size` and `n_frames` at once (a
stage may cover part of the signal); the next load decodes that width. A width beyond a
truncated file's complete stages decodes the largest complete one, as `nfc decode` does, and
`im.info["nff_note"]` says so (as it does for any truncated file).

Modes: 1 channel "L", 2 "LA", 3 "RGB", 4 "RGBA"; 16-bit grey is "I;16". Pillow has no mode for
16-bit grey+alpha or colour, so those are rounded to 8 bits (v / 257, to the nearest), as Pillow
reads 16-bit colour PNGs; `im.info["nff_bit_depth"]` is then 16: read them with imageio
(`iio.imread`) for every bit. Clips are multi-frame: `n_frames`, `is_animated`, `seek(k)`,
`tell()`; a load renders the current frame alone. A shape, or a corrupt `.nff`, raises nfcodec's
one-line error from `Image.open`; Pillow does not write `.nff` (use `nfc encode`).
"""
from __future__ import annotations

from typing import Any

from PIL import Image, ImageFile

FORMAT = "NFF"
MIME = "application/x-nff"  # formats/nff.md names no media type: an unregistered x- type
# the container's signature (formats/nff.md 1), here so that Pillow's probe of every file it
# opens costs no import of nfcodec.container (numpy, msgpack); a test checks they agree
SIGNATURE = b"\x8bNFF\r\n\x1a\n"
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _accept(prefix: bytes) -> bool:
    return prefix[: len(SIGNATURE)] == SIGNATURE


class NffImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "neural-field file (nfcodec)"

    def _open(self) -> None:
        from . import NffSource, read_bounded

        assert self.fp is not None
        name = self.filename if isinstance(self.filename, str) and self.filename else "<stream>"
        self._nff = NffSource(read_bounded(self.fp), name)
        geometry = self._nff.geometry
        self._mode = "I;16" if geometry.channels == 1 and geometry.bit_depth == 16 else MODES[geometry.channels]
        header = self._nff.nff.header
        self.info.update(nff_modality=header.modality, nff_stages_total=self._nff.nff.stages_total,
                         nff_widths_available=self._nff.nff.stages_available, nff_bit_depth=geometry.bit_depth,
                         nff_transform=header.transform["name"])
        self.tile = []  # no tile decoder: load() renders the field
        self._frame, self._loaded = 0, None
        self.nff_width = None

    @property
    def nff_width(self) -> int:
        """The stage count the next load decodes (see the module docstring)."""
        return self._width

    @nff_width.setter
    def nff_width(self, width: int | None) -> None:
        resolved = self._nff.width(width)  # UsageError out of range, before anything changes
        shape = self._nff.shape(resolved)
        self._width = resolved
        self._frames = shape[0] if self._nff.is_clip else 1
        height, columns = shape[-3:-1]
        self._size = (columns, height)
        self._frame = min(self._frame, self._frames - 1)
        note = self._nff.note(width)
        if note:
            self.info["nff_note"] = note
        else:
            self.info.pop("nff_note", None)

    @property
    def n_frames(self) -> int:
        return self._frames

    @property
    def is_animated(self) -> bool:
        return self._frames > 1

    def seek(self, frame: int) -> None:
        if self._seek_check(frame):  # EOFError outside 0..n_frames-1, as Pillow's plugins do
            self._frame = frame

    def tell(self) -> int:
        return self._frame

    def load(self) -> Any:
        """Render the current width and frame into image memory (again only if they changed)."""
        key = (self._width, self._frame)
        if self._loaded != key:
            pixels = self._pixels()
            self.im = Image.core.new(self.mode, self.size)  # the size follows the width
            self.frombytes(pixels.tobytes(), "raw", self.mode)
            self.readonly = 0
            self._loaded = key
        if self.fp is not None:  # the bytes were read at open: release a file Pillow opened, as its plugins do
            if self._exclusive_fp:
                self.fp.close()
            self.fp = None
        return Image.Image.load(self)

    def _pixels(self) -> Any:
        import numpy as np

        source = self._nff
        pixels = source.frame(self._width, self._frame) if source.is_clip else source.decode(self._width).pixels
        if self.mode == "I;16":
            return pixels.astype("<u2")  # Pillow's I;16 is little-endian
        if pixels.dtype == np.uint16:  # no 16-bit colour mode in Pillow: the nearest 8-bit value
            return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
        return pixels


def register() -> None:
    """Register the reader for the NFF signature, the `.nff` suffix and its media type."""
    Image.register_open(FORMAT, NffImageFile, _accept)
    Image.register_extension(FORMAT, ".nff")
    Image.register_mime(FORMAT, MIME)
