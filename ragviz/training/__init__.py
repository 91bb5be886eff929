"""Training: a project prepared once, the loop, the ensemble, runs in a thread or a child process, and their
history. May import the subpackages below it: safety, graph, data and model.
"""
