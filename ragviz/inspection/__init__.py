"""Inspection of a trained model: the trace every page draws, what-ifs, 2-D projections, baselines, model fit and
typed sentences. May import safety, graph, data, model and training.
"""
