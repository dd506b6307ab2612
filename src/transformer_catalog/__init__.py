"""transformer-catalog: the Transformer catalog, made executable.

Importing the package is cheap (no torch); the model code lives in `transformer_catalog.nn`.
"""

__version__ = "0.1.0"


def pipeline(task: str, model=None, **options):
    """`transformers.pipeline(task, model)`'s shape over tcat's own models (apps/pipeline.py: sentiment,
    text-classification, zero-shot-classification, feature-extraction, ner, summarization, translation).
    Imported on first call, so that importing the package stays torch-free."""
    from .apps.pipeline import pipeline as make

    return make(task, model, **options)
