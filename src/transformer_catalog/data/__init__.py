"""Corpora (from installed packages, never downloaded at run time), tokenizers and batching."""
