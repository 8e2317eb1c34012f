"""Optional tiny-cuda-nn backend for the grid encoding on CUDA devices.

The optional import lives here alone; importing nfcodec never requires tinycudann. The table
stays our own parameter (same layout as tcnn's, see grid_layout.py), and tcnn's fused
encoding kernel runs over the first `n_levels` levels of it. Any failure on first use disables
the backend for the process with one warning, and the plain torch path takes over.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

try:
    import tinycudann as tcnn  # type: ignore[import-not-found]

    AVAILABLE = True
except Exception:  # ImportError, or a CUDA/driver mismatch raised at import time
    tcnn = None
    AVAILABLE = False

_modules: dict[tuple[Any, ...], Any] = {}
_disabled = False


def usable(device: torch.device) -> bool:
    return AVAILABLE and not _disabled and device.type == "cuda"


def _encoding_module(layout: Any, n_levels: int, device: torch.device) -> Any:
    g = layout.config
    key = (g, n_levels, str(device))
    if key not in _modules:
        config = {
            "otype": "HashGrid",
            "n_levels": n_levels,
            "n_features_per_level": g.n_features,
            "log2_hashmap_size": g.log2_hashmap_size,
            "base_resolution": g.base_resolution,
            "per_level_scale": float(g.per_level_scale),
        }
        # The first n_levels levels of a grid depend only on (N_min, b, T): a tcnn grid of
        # n_levels levels has exactly the layout of our table's leading slice.
        with torch.cuda.device(device):
            _modules[key] = tcnn.Encoding(g.in_dim, config, dtype=torch.float32)
    return _modules[key]


def encode(table: torch.Tensor, coords: torch.Tensor, layout: Any, n_levels: int) -> torch.Tensor | None:
    """Grid features through tiny-cuda-nn, or None if the backend cannot run (caller falls back)."""
    global _disabled
    try:
        module = _encoding_module(layout, n_levels, coords.device)
        used = table[: int(layout.offsets[n_levels]) * layout.config.n_features]
        # tcnn's autograd function takes the parameters as an input, so gradients reach our table.
        out = tcnn.modules._module_function.apply(module.native_tcnn_module, coords.float().contiguous(), used.contiguous(), module.loss_scale)
        return out[:, : n_levels * layout.config.n_features].float()
    except Exception as exc:  # pragma: no cover - needs a GPU with tinycudann
        _disabled = True
        warnings.warn(f"tiny-cuda-nn backend disabled ({type(exc).__name__}: {exc}); using plain torch", RuntimeWarning)
        return None
