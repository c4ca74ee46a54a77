"""Stage 1, the data: tables, bundled datasets, safe formulas, the design matrix and its rotation. See
docs/design.md.
"""
