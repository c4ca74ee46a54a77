"""Stage 2, the models: a model specification, its priors, and the PyMC model built from it. See
docs/design.md.
"""
