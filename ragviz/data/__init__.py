"""Data families: the toy 2-D families, sine curves, digits, text and user tables, and the domain each belongs to.
May import :mod:`ragviz.safety` and :mod:`ragviz.graph`.
"""
