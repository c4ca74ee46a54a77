"""Stage 6, presentation: text, plot data, figures and the HTML report (computes nothing). See
docs/design.md.
"""
