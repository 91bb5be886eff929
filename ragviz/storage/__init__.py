"""Storage: checkpoints (safetensors, never a pickle), the shared models folder, the gallery and view links.
May import safety, graph, data, model, training and inspection.
"""
