"""The course's applications: classify (sentiment), index + search (semantic search), vision (ViT)."""

from __future__ import annotations

import json

from ..errors import TcatError
from .common import add_json, add_threads, check_output_file, read_inputs, set_threads, write_json
from .options import help_text, number

EPOCHS = number(float, 0, 10**4, "(]")
LR = number(float, 0, 10)
SEED = number(int, 0, 2**31 - 1)


def cmd_vision(args) -> None:
    """Train an image classifier (ViT from the core, or the CNN baseline) and report test accuracy."""
    check_output_file(args.json)
    set_threads(args.threads)
    import dataclasses

    import torch

    from ..apps.vision import make_classifier, train_classifier
    from ..data.images import load_images

    data = load_images(args.data)
    torch.manual_seed(args.seed)
    x = data["train"][0]
    model = make_classifier(args.model, x.shape[-1], len(data["classes"]))
    print(
        f"{args.model} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters) on {args.data}: "
        f"{len(x):,} train / {len(data['test'][1]):,} test images"
    )
    result = train_classifier(
        model, data, args.epochs, args.minutes, args.batch, args.lr, args.seed, progress=not args.quiet
    )
    out = dataclasses.asdict(result) | {"data": args.data, "threads": torch.get_num_threads()}
    print(json.dumps(out))
    write_json(args.json, out)


def cmd_classify(args) -> None:
    """Sentiment classification: a fine-tuned encoder or a baseline; accuracy and macro-F1 on the test split."""
    check_output_file(args.json)
    set_threads(args.threads)
    from ..apps.classify import classify
    from ..data.sentiment import load_sentiment

    if args.model not in ("tfidf", "bilstm"):  # the model is checked before the data is loaded
        from ..train.pretrained import resolve_encoder

        resolve_encoder(args.model)

    result = classify(
        load_sentiment(args.data), args.model, args.epochs, args.lr, args.max_len, args.seed, progress=not args.quiet
    )
    result = {"data": args.data, **result}
    print(json.dumps(result))
    write_json(args.json, result)


def cmd_index(args) -> None:
    """Embed a corpus, index it in Milvus, and (--evaluate) measure retrieval on held-out queries."""
    if args.encoder == "tfidf" and not args.evaluate:
        raise TcatError("--encoder tfidf is an evaluation baseline (exhaustive, no Milvus index): add --evaluate")
    check_output_file(args.json)
    _check_uri(args.uri)
    set_threads(args.threads)
    import time

    from ..apps.search import build_index, embed, load_corpus, retrieval_metrics, search, tfidf_rank

    corpus = load_corpus(args.data)
    started = time.perf_counter()
    if args.encoder == "tfidf":
        ranked = tfidf_rank(corpus)
    else:
        vectors = embed(args.encoder, corpus.texts)
        build_index(args.uri, vectors, corpus, args.encoder)
        print(
            f"indexed {len(corpus.texts):,} documents from {args.data} with {args.encoder} in {args.uri} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        if not args.evaluate:
            return
        hits = search(args.uri, embed(args.encoder, corpus.queries), k=10)
        ranked = [[h["id"] for h in row] for row in hits]
    result = {
        "encoder": args.encoder,
        "data": args.data,
        **retrieval_metrics(ranked, corpus.answers),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))
    write_json(args.json, result)


def _check_uri(uri: str) -> None:
    """A Milvus Lite index is a path ending in .db (Milvus Lite's own errors are long); it may exist
    as a file or a folder, so only its name and the folders above it are checked."""
    if "://" in uri:
        return
    from pathlib import Path

    p = Path(uri)
    if p.suffix != ".db":
        raise TcatError(f"--uri {uri}: a Milvus Lite file must end in .db (or give http://host:19530)")
    parent = next((q for q in p.absolute().parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise TcatError(f"--uri {uri}: {parent} is a file, not a folder")


def cmd_search(args) -> None:
    """Answer a query from an index built by tcat index."""
    text = " ".join(read_inputs(args.text))
    _check_uri(args.uri)
    set_threads(args.threads)
    from ..apps.search import embed, index_encoder, search

    encoder = args.encoder or index_encoder(args.uri)
    for rank, hit in enumerate(search(args.uri, embed(encoder, [text]), k=args.k)[0], 1):
        print(f"{rank:>2}. {hit['score']:.3f}  {hit['ref']}  {hit['text']}")


def register(sub, add) -> None:
    def results(sp):  # the options of commands that train or evaluate and report a result
        add_json(sp)
        sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
        add_threads(sp)

    def num(sp, flag, rng, default, text):
        sp.add_argument(
            flag, type=rng, default=default, metavar="N" if rng.kind is int else "X", help=help_text(text, default, rng)
        )

    sp = add("classify", cmd_classify, "sentiment classification: fine-tune an encoder, or a TF-IDF / BiLSTM baseline")
    sp.add_argument(
        "--data",
        default="vader-movies",
        help="vader-movies (python -m transformer_catalog.data.sentiment) (default vader-movies)",
    )
    sp.add_argument(
        "--model",
        default="minilm",
        help="tfidf, bilstm, minilm, a Hugging Face folder or a tcat encoder run (default minilm)",
    )
    num(sp, "--epochs", EPOCHS, 3.0, "training epochs (fractions allowed)")
    num(sp, "--lr", LR, 0.0, "learning rate; 0 = 5e-5 for encoders, 2e-3 for the BiLSTM")
    num(sp, "--max-len", number(int, 8, 4096), 128, "longest input in tokens")
    num(sp, "--seed", SEED, 0, "seed")
    results(sp)

    sp = add(
        "index", cmd_index, "embed a corpus into a Milvus index (Milvus Lite file by default) and evaluate retrieval"
    )
    sp.add_argument(
        "--encoder",
        default="minilm",
        help="minilm, a Hugging Face folder, a tcat contrastive run, or tfidf (default minilm)",
    )
    sp.add_argument(
        "--data",
        default="bible-kjv-web",
        help="bible-kjv-web (Debian sword-text-kjv/-web), bible-sample, "
        "or a query<TAB>document .tsv file (default bible-kjv-web)",
    )
    sp.add_argument(
        "--uri",
        default="runs/search/kjv.db",
        help="a Milvus Lite .db file, or http://host:19530 (default runs/search/kjv.db)",
    )
    sp.add_argument(
        "--evaluate", action="store_true", help="query the held-out verses: recall@1, recall@10, MRR@10 (default off)"
    )
    add_json(sp, "the evaluation")
    add_threads(sp)

    sp = add("search", cmd_search, "semantic search: the closest documents of an index to a text")
    sp.add_argument("text", nargs="*", help="the query (default: standard input)")
    sp.add_argument("--uri", default="runs/search/kjv.db", help="the index (default runs/search/kjv.db)")
    sp.add_argument("--encoder", default=None, help="default: the one the index was built with")
    num(sp, "--k", number(int, 1, 1000), 5, "how many documents to show")
    add_threads(sp)

    sp = add("vision", cmd_vision, "train a ViT (or the CNN baseline) on images and report test accuracy")
    sp.add_argument(
        "--data",
        default="fashion-mnist",
        choices=["fashion-mnist", "digits"],
        help="fashion-mnist (Debian dataset-fashion-mnist) or digits (scikit-learn) (default fashion-mnist)",
    )
    sp.add_argument("--model", default="vit", choices=["vit", "cnn"], help="vit or cnn (default vit)")
    num(sp, "--epochs", EPOCHS, 5.0, "training epochs (fractions allowed)")
    num(sp, "--minutes", number(float, 0, 10**7), 0.0, "stop after this long (0 = run all epochs)")
    num(sp, "--batch", number(int, 1, 65536), 128, "images per batch")
    num(sp, "--lr", number(float, 0, 10, "(]"), 2e-3, "learning rate")
    num(sp, "--seed", SEED, 0, "seed")
    results(sp)
