"""Text columns that hold numbers: one typo or thousands separators would turn a numeric
predictor into a factor with a level per distinct value; find and name such cells."""

from __future__ import annotations

import re

import pandas as pd

MAX_LISTED_CELLS = 5  # offending cells quoted in an error message

# A cell that is meant as a number but does not parse as one: thousands separators
# ("1,234", "1 234", "1'234") or a decimal comma ("12,5").
NUMBER_LIKE = re.compile(r"^[+-]?(\d{1,3}([,'_ \u00a0]\d{3})+(\.\d*)?|\d+,\d+)$")


def numbers_as_text_problem(column: pd.Series, name: str, formula: str) -> str | None:
    """The error message for a mostly numeric text ``column`` used as a value, else None.

    A column of words (at most half the cells look numeric), a categorical dtype, a
    numeric or a boolean column is fine: None.
    """
    column = column.reset_index(drop=True)  # row numbers are positions from 1
    if isinstance(column.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
    ):
        return None
    present = column.dropna()
    if present.empty or present.map(lambda v: isinstance(v, bool)).any():
        return None
    text = present.astype(str).str.strip()
    plain = pd.to_numeric(text, errors="coerce").notna()
    looks_numeric = plain | text.str.match(NUMBER_LIKE)
    if looks_numeric.mean() <= 0.5:  # mostly words: a genuine categorical column
        return None
    bad = present[~plain]
    hint = f"; write C({name}) in the formula to treat it as categorical on purpose"
    if bad.empty:
        return (f"column {name!r} used in formula {formula!r} holds numbers stored as text, "
                f"which formulaic would treat as categories; convert it to numbers "
                f"(pandas.to_numeric){hint}")
    cells = ", ".join(f"row {int(i) + 1}: {str(v)!r}" for i, v in bad.iloc[:MAX_LISTED_CELLS].items())
    more = f" and {len(bad) - MAX_LISTED_CELLS} more" if len(bad) > MAX_LISTED_CELLS else ""
    separators = ("; remove thousands separators and use '.' as the decimal point"
                  if text[~plain].str.match(NUMBER_LIKE).any() else "")
    return (f"column {name!r} used in formula {formula!r} looks numeric but {len(bad)} of its "
            f"{len(present)} values are not numbers ({cells}{more}), so it would silently "
            f"become categorical; correct those cells{separators}{hint}")
