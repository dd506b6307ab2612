"""transformer-catalog: the Transformer catalog, made executable.

Importing the package is cheap (no torch); the model code lives in `transformer_catalog.nn`.
"""

__version__ = "0.1.0"
