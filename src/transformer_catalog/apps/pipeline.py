"""`pipeline(task, model)`: one call from text to an answer, like transformers.pipeline, over tcat's
own models (nothing is downloaded):

  sentiment (sentiment-analysis)   zero-shot over negative / positive with SENTIMENT_DESCRIPTIONS
  text-classification              zero-shot over the caller's labels (and descriptions): no head is trained
  zero-shot-classification         the same, labels given per call (apps/zero_shot.py)
  feature-extraction               sentence vectors (mean-pooled, unit length; apps/embeddings.py)
  ner (token-classification)       a `tcat ner train` folder, entities aggregated (apps/ner.py)
  summarization (summarisation)    a `tcat summarise train` run (apps/summarise.py)
  translation                      a `tcat train --task translate` run (apps/translation.py)

Encoders: `minilm` (default), a Hugging Face folder or a tcat encoder run. Every pipeline takes one text
or a list, works in batches of `batch_size` (sorted by length, answers in input order), and checks
lengths explicitly: a text longer than the model's maximum (in tokens, special tokens included) is an
error naming the text unless `truncation=True`, which keeps its first tokens.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import TcatError

TASKS = (
    "sentiment",
    "text-classification",
    "zero-shot-classification",
    "feature-extraction",
    "ner",
    "summarization",
    "translation",
)
ALIASES = {"sentiment-analysis": "sentiment", "token-classification": "ner", "summarisation": "summarization"}
NEEDS_MODEL = {"ner": "tcat ner train", "summarization": "tcat summarise train", "translation": "tcat train"}


def canonical_task(task: str) -> str:
    task = ALIASES.get(task, task)
    if task not in TASKS:
        known = ", ".join(TASKS + tuple(ALIASES))
        raise TcatError(f"unknown pipeline task {task!r}; known: {known}")
    return task


def _too_long(lengths: list[int], limit: int, what: str) -> None:
    for i, n in enumerate(lengths):
        if n > limit:
            raise TcatError(
                f"input {i} is {n} tokens, longer than {what}'s maximum of {limit}; shorten it or pass "
                "truncation=True (tcat pipeline --truncate) to keep its first tokens"
            )


class Pipeline:
    task = ""

    def __init__(self, model: str, batch_size: int = 32, truncation: bool = False):
        if batch_size < 1:
            raise TcatError(f"batch size must be at least 1, got {batch_size}")
        self.model_name, self.batch_size, self.truncation = model, batch_size, truncation

    def __call__(self, inputs, **kwargs):
        one = isinstance(inputs, str)
        texts = [inputs] if one else list(inputs)
        if not all(isinstance(t, str) for t in texts):
            raise TcatError(f"{self.task}: inputs must be text (a string or a list of strings)")
        out = self.run(texts, **kwargs) if texts else []
        return out[0] if one else out

    def run(self, texts: list[str], **kwargs) -> list:
        raise NotImplementedError


class _EncoderPipeline(Pipeline):
    def __init__(self, model: str = "minilm", batch_size: int = 32, truncation: bool = False):
        super().__init__(model, batch_size, truncation)
        from .embeddings import SentenceEncoder

        self.encoder = SentenceEncoder(model)
        self.max_len = self.encoder.max_len

    def vectors(self, texts: list[str]):
        if not self.truncation:  # +2: [CLS] and [SEP]
            lengths = [len(ids) + 2 for ids in self.encoder.tokenizer.encode_batch(texts)]
            _too_long(lengths, self.max_len, self.model_name)
        return self.encoder.encode(texts, batch_size=self.batch_size)  # cuts to max_len (truncation)


class FeatureExtraction(_EncoderPipeline):
    task = "feature-extraction"

    def run(self, texts: list[str]) -> list[list[float]]:
        return self.vectors(texts).tolist()


class ZeroShot(_EncoderPipeline):
    """Labels (and descriptions) per call; text-classification and sentiment fix them at construction."""

    task = "zero-shot-classification"

    def __init__(self, model="minilm", batch_size=32, truncation=False, labels=None, descriptions=None, template="{}"):
        super().__init__(model, batch_size, truncation)
        self.labels, self.descriptions, self.template = labels, descriptions, template
        self._cache: dict = {}

    def _label_matrix(self, labels, descriptions, template):
        from .zero_shot import check_labels, label_matrix

        labels = check_labels(labels)
        key = (tuple(labels), repr(sorted((descriptions or {}).items())), template)
        if key not in self._cache:
            self._cache[key] = label_matrix(self.encoder, labels, descriptions, template)
        return labels, self._cache[key]

    def run(self, texts, candidate_labels=None, descriptions=None, hypothesis_template=None) -> list[dict]:
        labels = candidate_labels if candidate_labels is not None else self.labels
        if labels is None:
            raise TcatError(f"{self.task} needs candidate labels (candidate_labels=[...]; tcat pipeline --labels)")
        if isinstance(labels, str):
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        descriptions = descriptions if descriptions is not None else self.descriptions
        labels, mat = self._label_matrix(labels, descriptions, hypothesis_template or self.template)
        sims = self.vectors(texts) @ mat.T
        out = []
        for text, row in zip(texts, sims.tolist()):
            order = sorted(range(len(labels)), key=lambda i: -row[i])
            out.append(
                {"sequence": text, "labels": [labels[i] for i in order], "scores": [round(row[i], 4) for i in order]}
            )
        return out


class TextClassification(ZeroShot):
    task = "text-classification"

    def run(self, texts, candidate_labels=None, descriptions=None, hypothesis_template=None) -> list[dict]:
        full = super().run(texts, candidate_labels, descriptions, hypothesis_template)
        return [{"label": r["labels"][0], "score": r["scores"][0]} for r in full]


class Ner(Pipeline):
    task = "ner"

    def __init__(self, model: str, batch_size: int = 32, truncation: bool = False, aggregation: str = "simple"):
        super().__init__(model, batch_size, truncation)
        from .ner import load_tagger

        self.tagger, self.aggregation = load_tagger(model), aggregation

    def run(self, texts: list[str], aggregation: str | None = None) -> list[list[dict]]:
        from .ner import predict_entities

        how = aggregation or self.aggregation
        return predict_entities(texts, self.tagger, aggregation=how, truncate=self.truncation, batch=self.batch_size)


class Seq2SeqPipeline(Pipeline):
    """Summarisation and translation: an encoder-decoder run of tcat, greedy or beam decoding."""

    def __init__(
        self, model: str, batch_size: int = 32, truncation: bool = False, beam: int = 1, max_new_tokens: int = 0
    ):
        super().__init__(model, batch_size, truncation)
        from ..train.checkpoint import load_model

        self.model, meta, self.tok = load_model(model)
        if self.tok is None or self.model.config.arch != "encoder-decoder":
            raise TcatError(f"{model}: not an encoder-decoder run with a tokenizer (needed by {self.task})")
        self.task_meta = meta.get("task", {})
        self.beam, self.max_new_tokens = beam, max_new_tokens
        self.max_len = self.model.config.position.max_len

    def run(self, texts: list[str]) -> list[dict]:
        import torch

        from .translation import translate_batch

        if not self.truncation:  # +1: the source's </s>
            _too_long([len(ids) + 1 for ids in self.tok.encode_batch(texts)], self.max_len, self.model_name)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        outs = [""] * len(texts)
        with torch.no_grad():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                got = translate_batch(
                    self.model, self.tok, [texts[i] for i in idx], self.beam, 0.6, self.max_new_tokens
                )
                for i, text in zip(idx, got):
                    outs[i] = text
        return [{self.key: o} for o in outs]


class Summarization(Seq2SeqPipeline):
    task, key = "summarization", "summary_text"

    def __init__(self, model, batch_size=32, truncation=False, beam=1, max_new_tokens=48):
        super().__init__(model, batch_size, truncation, beam, max_new_tokens)
        if self.task_meta.get("name") != "summarise":
            raise TcatError(f"{model}: not a summariser run (its task is {self.task_meta.get('name')!r})")


class Translation(Seq2SeqPipeline):
    task, key = "translation", "translation_text"

    def __init__(self, model, batch_size=32, truncation=False, beam=1, max_new_tokens=0):
        super().__init__(model, batch_size, truncation, beam, max_new_tokens)
        if self.task_meta.get("name") != "translate":
            raise TcatError(f"{model}: not a translation run (its task is {self.task_meta.get('name')!r})")


def pipeline(task: str, model: str | Path | None = None, *, batch_size: int = 32, truncation: bool = False, **options):
    """A callable for `task` (see the module docstring). `options`: labels / descriptions / template for
    the classification tasks, aggregation for ner, beam / max_new_tokens for the sequence-to-sequence tasks."""
    task = canonical_task(task)
    if model is None and task in NEEDS_MODEL:
        raise TcatError(f"the {task} pipeline needs a model: a run folder written by {NEEDS_MODEL[task]}")
    model = str(model) if model is not None else "minilm"
    kw = {"batch_size": batch_size, "truncation": truncation}
    allowed = {
        "sentiment": (),
        "text-classification": ("labels", "descriptions", "template"),
        "zero-shot-classification": ("labels", "descriptions", "template"),
        "feature-extraction": (),
        "ner": ("aggregation",),
        "summarization": ("beam", "max_new_tokens"),
        "translation": ("beam", "max_new_tokens"),
    }[task]
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise TcatError(
            f"the {task} pipeline takes no option {', '.join(extra)} (it takes: {', '.join(allowed) or 'none'})"
        )
    if options.get("labels") is not None or options.get("descriptions"):  # checked before an encoder is loaded
        from .zero_shot import check_descriptions, check_labels

        labels = check_labels(options["labels"]) if options.get("labels") is not None else None
        check_descriptions(options.get("descriptions"), labels)
    if task == "sentiment":
        from .zero_shot import SENTIMENT_DESCRIPTIONS

        pipe = TextClassification(
            model, labels=sorted(SENTIMENT_DESCRIPTIONS), descriptions=SENTIMENT_DESCRIPTIONS, **kw
        )
        pipe.task = "sentiment"
        return pipe
    classes = {
        "text-classification": TextClassification,
        "zero-shot-classification": ZeroShot,
        "feature-extraction": FeatureExtraction,
        "ner": Ner,
        "summarization": Summarization,
        "translation": Translation,
    }
    return classes[task](model, **kw, **options)


__all__ = ["ALIASES", "TASKS", "Pipeline", "canonical_task", "pipeline"]
