"""The likelihood families: the contract, the registry, one module per family. See docs/design.md.
"""
