"""The task graph and its file formats: tasks, relations and edges, the graph itself, its CSV/JSON/GraphML/node-link
files, layouts, undo, ready-made generators and selections. May import :mod:`ragviz.safety` and the data
family registry (:mod:`ragviz.data.registry`, :mod:`ragviz.data.task_data`) for family names, defaults and sizes.
"""
