"""Stage 4, point estimates: the MAP, the exact classical fits that certify it, the NLL split. See
docs/design.md.
"""
