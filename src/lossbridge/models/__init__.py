"""Stage 3, the models: a model specification, its priors, and the two PyMC models built from
it: ``joint`` (the one NUTS samples and the MAP optimises, one block per model) and
``reference`` (one model with an observed ``y``: PyMC's own log-likelihood). See
docs/design.md.
"""
