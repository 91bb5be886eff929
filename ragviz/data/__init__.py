"""Data families, one registered class per domain (:mod:`ragviz.data.registry`): toy 2-D families, sine curves,
digits, text, speech and user tables. May import :mod:`ragviz.safety` only (:mod:`ragviz.graph` for type hints),
because the graph reads its family names and defaults from the registry.
"""
