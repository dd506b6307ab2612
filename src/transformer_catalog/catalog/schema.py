"""The schema of a catalog entry (pydantic). Unknown fields are errors; vocabularies are closed.

Every fact carries a source: the entry's primary reference (its paper, model card or release
post) stands behind the descriptive fields; sizes, the licence, corrections and the optional facts
of issue 19 (context length, training tokens and compute, hardware, open weights, hybrid layers)
name their own, and `sources` names where the date, parents and architecture are read. An
undisclosed number is null with a note saying so, never a guess. Checks that need the whole
catalog (base_model names, compute against 6·N·D) are in factcheck.py, run by load.consistency.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .vocab import ARCHITECTURES, LAB_NAMES, LICENSE_CATEGORIES, MODALITIES, TASKS

# a host (no empty "https://"), then a path; \Z, not $: $ also matches before a final newline. Quotes
# and angle brackets never belong in a URL and would break out of an href on the site.
URL = re.compile(r"https?://[^\s/?#\"'<>]+([/?#][^\s\"'<>]*)?\Z")
DATE = r"^(19|20)\d\d-(0[1-9]|1[0-2])$"
ARXIV = r"^\d{4}\.\d{4,5}$"


def _pattern(regex: str):
    """Publish a pattern in the JSON Schema; the validators below give the readable message."""
    return Field(json_schema_extra={"pattern": regex})


def _url(v: str | None) -> str | None:
    if v is not None and not URL.match(v):
        raise ValueError(f"{v!r} is not an http(s) URL (a host, no spaces, quotes or <>)")
    return v


def _flop(v):
    """A positive finite number: YAML's true/.nan/.inf are not compute (pydantic would take true as 1.0)."""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number of FLOP; write e.g. 3.8e+25")
    if isinstance(v, str) and _NUMBER.match(v.strip()):  # YAML reads 3.8e25 (no '+') as text
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v!r} is not a finite number of FLOP")
    return v


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_NUMBER = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$")


def _count(v, what: str = "count"):
    """A whole number written as a number: 15600000000000 or 1.56e+13 (YAML reads 1.56e13 as text,
    so that spelling is taken too); prose such as "15.6T" or "about 2 trillion" is refused."""
    if v is None:
        return v
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a {what}; write the number, e.g. 15600000000000")
    if isinstance(v, str):
        if not _NUMBER.match(v.strip()):
            raise ValueError(f"{v!r} is text; write the {what} as a number, e.g. 15600000000000 or 1.56e+13")
        v = float(v)
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"{v!r} is not a whole number")
        v = int(v)
    return v


class Size(Strict):
    variant: str
    params: int | None = Field(None, description="parameter count; null = undisclosed (say so in note)")
    active_params: int | None = Field(None, gt=0, description="parameters used per token (mixtures of experts)")
    source: str
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))
    _counts = field_validator("params", "active_params", mode="before")(lambda cls, v: _count(v, "parameter count"))

    @model_validator(mode="after")
    def _unknown_needs_note(self):
        if self.params is None and not self.note:
            raise ValueError("params is null: say in `note` that the size is undisclosed, never guess")
        if self.params is not None and self.params <= 0:
            raise ValueError("params must be positive")
        if self.active_params is not None and self.params is not None and self.active_params > self.params:
            raise ValueError(f"active_params {self.active_params} is more than params {self.params}")
        return self


def _undisclosed(value, note, field: str) -> None:
    if value is None and not note:
        raise ValueError(f"{field} is null: say in `note` that it is undisclosed, never guess")
    if value is not None and value <= 0:
        raise ValueError(f"{field} must be positive")


class Sources(Strict):
    """Per-fact sources beside the primary reference: where the date is read, where the parents
    (derived_from) are named, where the architecture is described."""

    date: str | None = None
    derived_from: str | None = None
    architecture: str | None = None
    note: str | None = None  # e.g. "the release date is only found on secondary pages"

    _check_urls = field_validator("date", "derived_from", "architecture")(lambda cls, v: _url(v))

    @model_validator(mode="after")
    def _some_source(self):
        if not (self.date or self.derived_from or self.architecture):
            raise ValueError("name at least one source: date, derived_from or architecture (http(s) URLs)")
        return self


class ContextLength(Strict):
    """The context window as released, in tokens."""

    tokens: int | None = Field(description="tokens; null = undisclosed (say so in note)")
    source: str
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))
    _tokens = field_validator("tokens", mode="before")(lambda cls, v: _count(v, "token count"))

    @model_validator(mode="after")
    def _known_or_noted(self):
        _undisclosed(self.tokens, self.note, "tokens")
        return self


class TrainingTokens(ContextLength):
    """Tokens seen in pretraining (all epochs), as published; often for one size only."""

    variant: str | None = None  # the size they were counted for (one of sizes' variants); default the largest


class TrainingCompute(Strict):
    flop: float | None = Field(description="training compute in FLOP; null = undisclosed (say so in note)")
    method: Literal["reported", "estimated-6ND"] | None = None
    confidence: Literal["high", "medium", "low"] | None = None
    variant: str | None = None  # one of the entry's sizes; default the largest
    source: str  # for estimated-6ND: where N and D were read
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))
    _finite = field_validator("flop", mode="before")(lambda cls, v: _flop(v))

    @model_validator(mode="after")
    def _how_obtained(self):
        _undisclosed(self.flop, self.note, "flop")
        if self.flop is not None and not self.method:
            raise ValueError("flop is given: say how it was obtained in `method` (reported or estimated-6ND)")
        if self.flop is not None and not self.confidence:
            raise ValueError("flop is given: give a `confidence` (high, medium or low)")
        return self


class Hardware(Strict):
    kind: str  # e.g. "NVIDIA H100 80GB", "TPU v4"
    count: int | None = Field(None, gt=0)
    source: str
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))
    _count_ = field_validator("count", mode="before")(lambda cls, v: _count(v, "chip count"))


class LicenseChange(Strict):
    date: str = _pattern(DATE)  # the month the licence took effect
    license: str
    source: str

    _check_source = field_validator("source")(lambda cls, v: _url(v))

    @model_validator(mode="before")
    @classmethod
    def _dated(cls, data):
        if isinstance(data, dict):
            v = data.get("date")
            if v is None:
                raise ValueError("a licence change needs `date`: the month it took effect (YYYY-MM)")
            if not isinstance(v, str) or not re.match(DATE, v):
                raise ValueError(f"date {v!r} is not a YYYY-MM date")
        return data


class OpenWeights(Strict):
    open: bool  # weights downloadable, under any licence
    format: str | None = None  # e.g. safetensors, GGUF, PyTorch pickle
    source: str  # where the weights are, or the statement that they are not released
    license_changes: list[LicenseChange] = []  # the licence at release first, then every change
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))

    @model_validator(mode="after")
    def _in_order(self):
        dates = [c.date for c in self.license_changes]
        for i in range(1, len(dates)):
            if dates[i] < dates[i - 1]:
                raise ValueError(f"license_changes must be in date order: {dates[i]} comes after {dates[i - 1]}")
        return self


class Modalities(Strict):
    """What the model reads and writes; an empty output means representations (embeddings, labels)."""

    input: list[Literal[tuple(MODALITIES)]]  # type: ignore[valid-type]
    output: list[Literal[tuple(MODALITIES)]]  # type: ignore[valid-type]

    @field_validator("input")
    @classmethod
    def _reads_something(cls, v):
        if not v:
            raise ValueError(f"list at least one input modality ({', '.join(MODALITIES)})")
        return v


class Hybrid(Strict):
    """Layers other than attention beside attention (Mamba, linear attention): the mix, sourced."""

    layers: str = Field(description='the layer mix, e.g. "1 attention : 7 Mamba per 8-layer block"')
    source: str

    _check_source = field_validator("source")(lambda cls, v: _url(v))

    @field_validator("layers")
    @classmethod
    def _says_the_mix(cls, v):
        if not v.strip():
            raise ValueError("give the layer mix, e.g. '1 attention : 7 Mamba per 8-layer block'")
        return v


class License(Strict):
    category: Literal[tuple(LICENSE_CATEGORIES)]  # type: ignore[valid-type]
    spdx: str | None = None  # SPDX identifier where one exists
    name: str | None = None  # for bespoke licences without an SPDX id
    source: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))

    @model_validator(mode="after")
    def _sourced(self):
        if self.category != "unknown" and not self.source:
            raise ValueError("a licence other than unknown needs a source")
        return self


class References(Strict):
    title: str
    authors: str  # "Surname et al." or the organisation
    year: int
    paper: str | None = None  # the primary source: paper, technical report or release post
    arxiv: str | None = Field(None, json_schema_extra={"pattern": ARXIV})
    docs: str | None = None  # Hugging Face model doc, model card or repository
    bibtex_key: str

    _check_urls = field_validator("paper", "docs")(lambda cls, v: _url(v))

    @field_validator("arxiv")
    @classmethod
    def _arxiv(cls, v):
        if v is not None and not re.match(ARXIV, v):
            raise ValueError(f"{v!r} is not a new-style arXiv id (YYMM.NNNNN)")
        return v

    @model_validator(mode="after")
    def _has_primary(self):
        if not (self.paper or self.arxiv):
            raise ValueError("needs a primary source: paper URL or arXiv id")
        return self


class Correction(Strict):
    field: str
    paper_said: str  # what the catalog paper (Amatriain et al.) said
    we_say: str
    source: str

    _check_source = field_validator("source")(lambda cls, v: _url(v))


class Spec(Strict):
    """How the core builds this entry, at every published size: plain data, checked by `tcat verify`.

    `layout` names a tcat family (a checkpoint layout and config builder, families/; not the
    entry's genealogy, which is Entry.family) whose make_config takes `args` (shared) merged with
    the variant's own arguments; layout `config` takes ModelConfig fields directly (dotted keys).
    Variant names match the entry's sizes. `counting` states what the published number counts;
    `explained` says, per variant (or "VARIANT active": a mixture of experts' count per token), why the
    computed count may differ by more than 2%."""

    layout: str
    args: dict = {}
    variants: dict[str, dict] = {}
    counting: str
    explained: dict[str, str] = {}


class Entry(Strict):
    name: str
    aliases: list[str] = []
    family: str
    derived_from: list[str] = []
    architecture: Literal[ARCHITECTURES]  # type: ignore[valid-type]
    architecture_note: str | None = None
    pretraining_tasks: list[Literal[tuple(TASKS)]]  # type: ignore[valid-type]
    task_note: str | None = None
    finetuning_task: str | None = None
    extension: str
    applications: list[str]
    date: str = _pattern(DATE)
    sizes: list[Size]
    corpus: str
    license: License
    lab: list[Literal[tuple(LAB_NAMES)]]  # type: ignore[valid-type]
    references: References
    corrections: list[Correction] = []
    spec: Spec | None = None  # the architecture, buildable by the core (tcat verify)
    not_buildable: str | None = None  # why there is no spec (undisclosed, or a feature the core lacks)
    in_paper: bool  # listed in the catalog paper (Amatriain et al., 2023), or added by us
    # issue 19's facts, each optional and sourced
    date_kind: Literal["arxiv", "paper", "release", "announcement"] | None = None  # what `date` dates
    sources: Sources | None = None
    context_length: ContextLength | None = None
    training_tokens: TrainingTokens | None = None
    training_compute: TrainingCompute | None = None
    hardware: Hardware | None = None
    open_weights: OpenWeights | None = None
    modalities: Modalities | None = None
    base_model: list[str] = []  # weights lineage (names or aliases), apart from the design lineage
    hybrid: Hybrid | None = None

    @field_validator("hybrid", mode="before")
    @classmethod
    def _hybrid_mix(cls, v):
        if v is not None and not isinstance(v, dict):
            raise ValueError("hybrid needs its layer mix: hybrid: {layers: '1 attention : 7 Mamba ...', source: URL}")
        if isinstance(v, dict) and not v.get("layers"):
            raise ValueError("hybrid needs its layer mix in `layers`, e.g. '1 attention : 7 Mamba per 8-layer block'")
        return v

    @field_validator("date")
    @classmethod
    def _date(cls, v):
        if not re.match(DATE, v):
            raise ValueError(f"{v!r} is not a YYYY-MM date")
        return v

    @field_validator("pretraining_tasks")
    @classmethod
    def _some_task(cls, v):
        if not v:
            raise ValueError("list at least one pretraining task (use `other` with task_note)")
        return v

    @model_validator(mode="after")
    def _spec_variants(self):
        if not self.spec and not self.not_buildable:
            raise ValueError("give an architecture spec, or say in not_buildable why the core cannot build it")
        if self.spec and self.not_buildable:
            raise ValueError("an entry with a spec is buildable: drop not_buildable")
        if self.spec:
            names = {s.variant for s in self.sizes}
            unknown = sorted(set(self.spec.variants) - names)
            if unknown:
                raise ValueError(f"spec variant {unknown[0]!r} is not one of the sizes ({', '.join(sorted(names))})")
            stray = sorted(k for k in self.spec.explained if k.removesuffix(" active") not in self.spec.variants)
            if stray:
                raise ValueError(f"spec explains {stray[0]!r}, which has no spec variant")
        return self

    @model_validator(mode="after")
    def _notes(self):
        if "other" in self.pretraining_tasks and not self.task_note:
            raise ValueError("pretraining task `other` needs a task_note")
        if not self.sizes:
            raise ValueError("list at least one size (params null with a note when undisclosed)")
        return self


class Lineage(Strict):
    """A pre-Transformer architecture: the roots of the family tree and the timeline."""

    name: str
    year: int
    first: str  # who introduced it, and where
    key_paper: str
    note: str
    leads_to: list[str] = []
    source: str

    _check_source = field_validator("source")(lambda cls, v: _url(v))
