"""An imageio v3 plugin that reads `.nff` images and clips (registered by `import nfcodec`).

    import nfcodec, imageio.v3 as iio
    iio.imread("x.nff")             # the image at every complete stage ([H, W] grey, [H, W, C])
    iio.imread("x.nff", width=1)    # the first stage only
    iio.imread("clip.nff")          # a clip: [T, H, W, 3]; index=k renders frame k alone
    iio.imiter("clip.nff")          # frame by frame
    iio.improps("x.nff"), iio.immeta("x.nff")   # from the header: nothing is decoded

Grey images come back [H, W], as imageio's own plugins return grey files; other images are
exactly what `nfcodec.decode_bytes(...).pixels` gives (8- or 16-bit). A truncated file decodes
its largest complete width, as `nfc decode` does (`immeta` carries the note). A shape, or a
corrupt `.nff`, raises nfcodec's one-line error; bytes without the NFF signature raise
InitializationError, so imageio tries its other plugins. Writing `.nff` is refused: encoding is
training, use `nfc encode` or `nfcodec.encode`.
"""
from __future__ import annotations

from os import PathLike
from typing import Any, Iterator

import numpy as np
from imageio.core.request import InitializationError, IOMode, Request
from imageio.core.v3_plugin_api import ImageProperties, PluginV3

from . import NffSource, read_bounded

PLUGIN = "nff"


class NffPlugin(PluginV3):
    def __init__(self, request: Request) -> None:
        super().__init__(request)
        uri = request.raw_uri
        self.name = str(uri) if isinstance(uri, (str, PathLike)) else getattr(uri, "name", "<bytes>")
        if request.mode.io_mode == IOMode.write:
            self._refuse_write(request)
        from .. import container
        from ..errors import NfcError

        try:
            head = request.firstbytes
        except Exception as exc:  # not a readable resource: some other plugin's business
            raise InitializationError(f"{self.name}: unreadable ({type(exc).__name__})") from None
        if not head.startswith(container.SIGNATURE):
            raise InitializationError(f"{self.name} is not an .nff file")
        try:
            self.source = NffSource(read_bounded(request.get_file()), self.name)
        except NfcError:  # an .nff we refuse (corrupt, a shape): our error, not imageio's fallback
            request.finish()
            raise

    def _refuse_write(self, request: Request) -> None:
        if (request.extension or request.format_hint or "").lower() != ".nff":
            raise InitializationError("the nff plugin only reads")
        from ..errors import UsageError

        request.finish()
        raise UsageError(f"cannot write {self.name} with imageio: encode to .nff with `nfc encode` or nfcodec.encode")

    def read(self, *, index: Any = None, width: int | None = None) -> np.ndarray:
        """The image (index None or 0; `...` adds a batch axis) or the clip [T, H, W, 3] (index
        None or `...`; an int k: frame k alone), decoded at `width` stages (None: all complete)."""
        source = self.source
        stages = source.width(width)
        if not source.is_clip:
            self._check_index(index, 1)
            pixels = _image(source.decode(stages).pixels)
            return pixels[None] if index is Ellipsis else pixels
        if index is None or index is Ellipsis:
            return source.decode(stages).pixels
        self._check_index(index, source.shape(stages)[0])
        return source.frame(stages, index)

    def iter(self, *, width: int | None = None) -> Iterator[np.ndarray]:
        """The image once, or the clip's frames one at a time as they are rendered."""
        source = self.source
        result = source.decode(source.width(width))
        for block in result.decoder.blocks(result.width):
            yield block if source.is_clip else _image(block)

    def properties(self, index: Any = None, *, width: int | None = None) -> ImageProperties:
        """Shape and dtype from the header, without decoding."""
        source = self.source
        shape = source.shape(source.width(width))
        dtype = np.dtype(np.uint8 if source.geometry.bit_depth == 8 else np.uint16)
        if shape[-1] == 1:
            shape = shape[:-1]  # grey: as `read` returns it
        if source.is_clip:
            if index is None or index is Ellipsis:
                return ImageProperties(shape=shape, dtype=dtype, n_images=shape[0], is_batch=True)
            self._check_index(index, shape[0])
            return ImageProperties(shape=shape[1:], dtype=dtype)
        self._check_index(index, 1)
        if index is Ellipsis:
            return ImageProperties(shape=(1, *shape), dtype=dtype, n_images=1, is_batch=True)
        return ImageProperties(shape=shape, dtype=dtype)

    def metadata(self, index: Any = None, exclude_applied: bool = True, *, width: int | None = None) -> dict[str, Any]:
        """modality, stages_total, widths_available, complete, transform (its name), width (what
        `read` decodes) and, for a truncated file, note; read from the header."""
        return self.source.metadata(width)

    def _check_index(self, index: Any, count: int) -> None:
        if index is None or index is Ellipsis:
            return
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < count:
            raise ValueError(f"index {index!r} is out of range: {self.name} holds {count} image(s) at this width")


def _image(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, :, 0] if pixels.shape[-1] == 1 else pixels


def register() -> None:
    """Add the plugin to imageio's registry: first for `.nff` and first in the fallback order,
    so that bytes without a name reach it too (it refuses anything else after 8 bytes)."""
    from imageio.config import FileExtension, PluginConfig, known_extensions, known_plugins

    if PLUGIN in known_plugins:
        return
    entries = [(PLUGIN, PluginConfig(name=PLUGIN, class_name="NffPlugin", module_name=__name__)), *known_plugins.items()]
    known_plugins.clear()  # the dict's order is imageio's fallback order: put ours first
    known_plugins.update(entries)
    extension = FileExtension(extension=".nff", priority=[PLUGIN], name="NFF",
                              description="neural-field file (nfcodec): images and clips, read only")
    known_extensions.setdefault(".nff", []).insert(0, extension)
