"""The task graph and its file formats: tasks, relations and edges, the graph itself, its CSV/JSON/GraphML/node-link
files, layouts, undo, ready-made generators and selections. May import :mod:`ragviz.safety` only.
"""
