"""Limits and safety: the project's errors, checks of single values, the server's limits, the one safe-text path and
the one way to read an upload. Imports nothing else of ragviz: every other subpackage may import it.
"""
