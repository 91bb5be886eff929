"""ragviz: an interactive lab for RAG, the Relation-Aware Generative model."""

__version__ = "0.1.0"
