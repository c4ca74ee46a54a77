"""Stage 5, the posterior: NUTS, diagnostics, the exact-posterior oracle, PPC, LOO, comparison,
verdict. See docs/design.md.
"""
