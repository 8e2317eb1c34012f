"""nfcodec: signals stored as progressive neural fields in the chunked `.nff` format.

Python API (imported lazily so that `nfcodec.container` works without torch):
    nfcodec.encode(input_path, output_path, config) -> EncodeResult
    nfcodec.decode(nff_path, output_path, width=None, strict=False) -> DecodeResult
    nfcodec.info(nff_bytes) -> dict

Importing nfcodec also lets imageio and Pillow read `.nff` (nfcodec.plugins), without
importing either library (or numpy, or torch) here.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "encode": "nfcodec.codec:encode",
    "decode": "nfcodec.codec:decode",
    "encode_signal": "nfcodec.codec:encode_signal",
    "encode_image": "nfcodec.codec:encode_image",
    "decode_bytes": "nfcodec.codec:decode_bytes",
    "info": "nfcodec.codec:info",
    "EncodeConfig": "nfcodec.codec:EncodeConfig",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        module_name, _, attribute = _API[name].partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'nfcodec' has no attribute {name!r}")


__all__ = ["__version__", *_API]

from .plugins import install as _install_plugins  # noqa: E402  (stdlib only: see nfcodec.plugins)

_install_plugins()
