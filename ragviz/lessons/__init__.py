"""Lessons and samples: the lesson graphs, their claims and contrasts, and the shipped samples built from them.
May import every subpackage but ui and plots.
"""
