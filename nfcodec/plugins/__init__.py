"""Read `.nff` where images are already read: an imageio plugin and a Pillow plugin.

`install()` (run by `import nfcodec`) registers each plugin once its library is imported, and
imports neither library itself: the `nfc` CLI sets thread-pool variables before numpy or torch
load, and `nfcodec.container` must work without torch, so `import nfcodec` stays stdlib only.

How: a library already in `sys.modules` is registered at once. Otherwise a small finder at the
front of `sys.meta_path` answers nothing itself; when `imageio` or `PIL.Image` is about to be
imported it finds the real spec with the other finders and wraps its loader's `exec_module`, so
that the plugin registers right after the module has run. The finder removes itself once both
are registered. Registration must never break the user's import: its failures are swallowed
(the plugin is then just absent) and the import goes on.

The rest of this module is what both plugins share: reading a file with a size bound and
describing it from its header (no pixels), decoding widths and single frames on demand.
"""
from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # annotations only: importing numpy or nfcodec.decoding here is what we avoid
    import numpy as np

    from ..decoding import DecodeResult

# the module whose import triggers a registration -> the plugin module that registers
_PENDING: dict[str, str] = {"imageio": "nfcodec.plugins.imageio_nff", "PIL.Image": "nfcodec.plugins.pillow_nff"}
REFUSED = {"shape": "a 3D shape"}  # modalities that are no image, as a refusal names them
READ_PIECE = 1 << 20


def install() -> None:
    """Register the plugins of the libraries already imported; watch for the others."""
    for name in [n for n in _PENDING if n in sys.modules]:
        _register(name)
    if _PENDING and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def _register(name: str) -> None:
    plugin = _PENDING.pop(name, None)
    if not _PENDING:  # rebound, not edited in place: another thread may be walking the list
        sys.meta_path = [f for f in sys.meta_path if not isinstance(f, _Finder)]
    try:
        if plugin is not None:
            importlib.import_module(plugin).register()
    except Exception:  # a broken plugin must not break `import imageio` / `import PIL.Image`
        pass


class _Finder:
    """A meta-path finder that only watches: see the module docstring."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _PENDING:
            return None
        try:
            spec = next(s for s in (_spec(f, fullname, path, target) for f in sys.meta_path if f is not self) if s)
            _wrap(spec.loader, fullname)
            return spec
        except Exception:  # no spec, or a loader we cannot wrap: import as if we were not here
            return None


def _spec(finder: Any, fullname: str, path: Any, target: Any) -> Any:
    find_spec = getattr(finder, "find_spec", None)
    return find_spec(fullname, path, target) if find_spec else None


def _wrap(loader: Any, name: str) -> None:
    original: Callable[[Any], None] = loader.exec_module

    def exec_module(module: Any) -> None:
        if getattr(module, "__name__", None) != name:  # a loader shared with other modules (a zip)
            return original(module)
        try:
            original(module)
        finally:
            try:
                del loader.exec_module  # back to the class's method: wrapped for this import only
            except AttributeError:
                pass
        _register(name)  # only once the module ran without error

    loader.exec_module = exec_module


# ---- shared by both plugins ---------------------------------------------------------------


def read_bounded(fp: Any) -> bytes:
    """A `.nff` file from a binary file object: the header first, then at most the size it
    declares (bounded by the format's limits) and one byte more, so that container.read sees
    trailing data. Read in pieces: a hostile header cannot make us allocate more than the file
    holds."""
    from .. import container
    from ..errors import TruncatedFile

    data = bytearray(_read_upto(fp, 20))
    need = container.header_bytes_needed(data)  # BadSignature for anything else
    if need is None:
        raise TruncatedFile("truncated file: it ends before the header")
    data += _read_upto(fp, need - len(data))
    header = container.read_header(data)
    data += _read_upto(fp, header.file_size + 1 - len(data))
    return bytes(data)


def _read_upto(fp: Any, count: int) -> bytes:
    pieces, left = [], count
    while left > 0:
        piece = fp.read(min(left, READ_PIECE))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


class NffSource:
    """A validated `.nff` image or clip and what its header says, without decoding: `width`
    resolves a requested stage count as `nfc decode` does, `shape` / `note` describe a width,
    `decode` and `frame` render (each width decoded at most once)."""

    def __init__(self, data: bytes, name: str):
        from .. import container
        from ..errors import TruncatedFile, UsageError

        self.name, self.data = name, data
        self.nff = container.read(data)
        kind = self.nff.header.modality
        if kind not in ("image", "video"):
            what = REFUSED.get(kind, f"a {kind} signal")
            raise UsageError(f"{name} holds {what}, not an image: decode it with `nfc decode`")
        if self.nff.stages_available == 0:
            raise TruncatedFile(f"truncated file: {name} holds no complete stage")
        from ..modalities import modality

        self.modality = modality(kind)
        self.geometry = self.modality.from_description(self.nff.header.signal)
        self._results: dict[int, Any] = {}

    @property
    def is_clip(self) -> bool:
        return self.nff.header.modality == "video"

    def width(self, asked: int | None) -> int:
        """The width a decode asked for `asked` gives (None: all complete stages)."""
        from ..errors import UsageError

        total, available = self.nff.stages_total, self.nff.stages_available
        if asked is None:
            return available
        if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= total:
            raise UsageError(f"width {asked!r} is out of range: {self.name} has {total} stage(s)")
        return min(asked, available)

    def note(self, asked: int | None) -> str | None:
        """What `decode_bytes` notes for `asked` (a truncated file), before any decoding."""
        width, total = self.width(asked), self.nff.stages_total
        if asked is not None and asked > width:
            return f"truncated file: width {asked} requested, decoded width {width} (the largest complete)"
        return None if self.nff.complete else f"truncated file: decoded width {width} of {total}"

    def shape(self, width: int) -> tuple[int, ...]:
        """The decoded shape at `width` (a stage may cover part of the signal): [H, W, C] or
        [T, H, W, 3]."""
        extent = self.nff.header.stages[width - 1].extent
        lattice = self.modality.domain(self.geometry).shape
        sizes = lattice if extent is None else [stop - start for start, stop in extent]
        return (*sizes, self.geometry.channels)

    def decode(self, width: int) -> DecodeResult:
        if width not in self._results:
            from ..decoding import decode_bytes

            self._results[width] = decode_bytes(self.data, width=width)
        return self._results[width]

    def frame(self, width: int, index: int) -> np.ndarray:
        """Frame `index` of the clip at `width`: only that frame is rendered (a clip's transforms
        are pointwise; each frame is rendered on its own lattice, as a whole decode does)."""
        result = self.decode(width)
        if result._pixels is not None:  # the whole clip was rendered already (imread): no work
            return result.pixels[index]
        import torch

        decoder = result.decoder
        (t0, _), *rest = decoder.extent(width) or [(0, n) for n in decoder.stored_shape]
        one = ((t0 + index, t0 + index + 1), *rest)
        (frame,) = decoder.modality.render(decoder.field, decoder.transform, decoder.geometry, width, torch.device("cpu"), one)
        return frame

    def metadata(self, asked: int | None) -> dict[str, Any]:
        nff = self.nff
        meta = {"modality": nff.header.modality, "stages_total": nff.stages_total, "widths_available": nff.stages_available,
                "complete": nff.complete, "transform": nff.header.transform["name"], "width": self.width(asked)}
        note = self.note(asked)
        return {**meta, "note": note} if note else meta
