"""Cross-cutting helpers every stage may use: errors, option checks, rounding bounds, atomic outputs,
signals. See docs/design.md.
"""
