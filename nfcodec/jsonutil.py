"""JSON for reports and journals: numbers JSON cannot hold get a stable spelling."""
from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """`value` with NaN as null and infinities as "inf" / "-inf" (a lossless PSNR is infinite),
    tuples as lists: what json.dumps(allow_nan=False) accepts, the same on every run."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
