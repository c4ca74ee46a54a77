"""Labels shared by every stage: the row label of a likelihood scale beside the coefficients,
and shape settings in words.

In a module of its own (no imports) so that the family modules can use it without
loading the data stage's formula machinery.
"""

from __future__ import annotations

SCALE_LABEL_PREFIX = "scale: "
SHAPE_LABEL_PREFIX = "shape: "


def scale_label(scale_name: str) -> str:
    """Row label of a likelihood scale beside the coefficients (``"scale: sigma"``).

    Terms are data-column names, so a bare ``"sigma"`` or ``"b"`` row could collide with
    a predictor of that name; no term may start with :data:`SCALE_LABEL_PREFIX` (refused
    in :func:`build_design`), so this label never does.
    """
    return f"{SCALE_LABEL_PREFIX}{scale_name}"


def settings_text(shape) -> str:
    """A model's shape settings in words for tables: ``"tau=0.9"``, ``"nu learned"``
    (value None), ``""`` for a family without any; ``shape`` as in ``ModelId.shape``."""
    return ", ".join(f"{name} learned" if value is None else f"{name}={value}"
                     if isinstance(value, str) else f"{name}={format(value, 'g')}"
                     for name, value in shape)
def shape_label(name: str) -> str:
    """Row label of a learned shape parameter beside the coefficients (``"shape: nu"``);
    no term may start with :data:`SHAPE_LABEL_PREFIX` either."""
    return f"{SHAPE_LABEL_PREFIX}{name}"


def plus_minus(value: float, se: float, significant: int = 2) -> str:
    """``"0.020 ± 0.026"``: a value and its standard error to the same decimals, those that
    give the error ``significant`` significant digits (a value is never printed more
    precisely than its error allows, nor less). Non-finite or zero errors: each as ``g``."""
    import math

    if not (math.isfinite(value) and math.isfinite(se)) or se <= 0:
        return f"{value:.3g} ± {se:.3g}"
    decimals = min(max(significant - 1 - math.floor(math.log10(se)), 0), 12)
    # rounding the error may carry into a new digit (0.0996 -> 0.10): one decimal fewer
    if decimals > 0 and round(se, decimals) >= 10 ** (significant - decimals):
        decimals -= 1
    shown = f"{value:.{decimals}f}"
    if float(shown) == 0:  # no "-0.00"
        shown = shown.lstrip("-")
    return f"{shown} ± {se:.{decimals}f}"
