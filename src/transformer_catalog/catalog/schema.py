"""The schema of a catalog entry (pydantic). Unknown fields are errors; vocabularies are closed.

Every fact carries a source: the entry's primary reference (its paper, model card or release
post) stands behind the descriptive fields; sizes, the licence and corrections name their own.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .vocab import ARCHITECTURES, LAB_NAMES, LICENSE_CATEGORIES, TASKS

URL = re.compile(r"^https?://\S+$")
DATE = r"^(19|20)\d\d-(0[1-9]|1[0-2])$"
ARXIV = r"^\d{4}\.\d{4,5}$"


def _pattern(regex: str):
    """Publish a pattern in the JSON Schema; the validators below give the readable message."""
    return Field(json_schema_extra={"pattern": regex})


def _url(v: str | None) -> str | None:
    if v is not None and not URL.match(v):
        raise ValueError(f"{v!r} is not an http(s) URL")
    return v


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Size(Strict):
    variant: str
    params: int | None = Field(None, description="parameter count; null = undisclosed (say so in note)")
    source: str
    note: str | None = None

    _check_source = field_validator("source")(lambda cls, v: _url(v))

    @model_validator(mode="after")
    def _unknown_needs_note(self):
        if self.params is None and not self.note:
            raise ValueError("params is null: say in `note` that the size is undisclosed, never guess")
        if self.params is not None and self.params <= 0:
            raise ValueError("params must be positive")
        return self


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
    `explained` says, per variant, why the computed count may differ by more than 2%."""

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
            stray = sorted(set(self.spec.explained) - set(self.spec.variants))
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
