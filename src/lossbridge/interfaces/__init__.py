"""The interfaces: the pipeline fit(), its results, options, CLI, run specs, persistence. See
docs/design.md.
"""
