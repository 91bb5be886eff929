"""The model: settings, index layouts, the graph as tensors, and RAG itself (message passing, encoder, decoders).
May import :mod:`ragviz.safety`, :mod:`ragviz.graph` and :mod:`ragviz.data`.
"""
