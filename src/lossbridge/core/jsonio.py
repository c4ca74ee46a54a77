"""JSON serialisation of results: numpy types to plain Python, non-finite numbers to null."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Recursively convert numpy scalars and arrays; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def dumps(document: dict) -> str:
    """Serialise a results document deterministically (stable key order, full precision)."""
    return json.dumps(to_jsonable(document), indent=2, allow_nan=False)
