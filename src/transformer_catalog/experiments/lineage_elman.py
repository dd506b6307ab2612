"""Elman's simple recurrent network (1990): trained to predict the next letter of unsegmented text,
its surprise is highest at the first letter of each word, so word boundaries show in its error."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-elman"
LINEAGE = "RNN"
CLAIM = (
    "A character-level Elman network trained to predict the next letter of the King James Bible with "
    "spaces and punctuation removed is more surprised by word-initial letters than by word-internal "
    "ones on held-out books: the boundaries it was never shown show in its error."
)
CONTROL = (
    "Letter frequencies alone (a unigram model, no context) on the same held-out letters: word-initial "
    "letters are only slightly rarer, so their gap is less than half the network's."
)


@dataclass
class Config:
    setting: str = "full"
    data: str = "kjv"  # kjv: the whole KJV (Debian sword-text-kjv); bible-sample: the in-repo sample
    hidden: int = 128
    steps: int = 4000
    chunk: int = 50  # letters per truncated-BPTT segment
    batch: int = 32
    lr: float = 3e-3
    eval_letters: int = 20000  # held-out letters measured (from the test books' start)
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", data="bible-sample", hidden=64, steps=300, batch=16, eval_letters=5000)


def _texts(data: str) -> tuple[list[str], list[str]]:
    """English verse texts of the training books and of the held-out test books."""
    from ..data.bible import TEST_BOOKS, load_bible, load_sample

    if data == "kjv":
        verses = load_bible("engKJV2006eb").items()
    elif data == "bible-sample":
        verses = [(p.ref, p.src) for p in load_sample()]
    else:
        from ..errors import TcatError

        raise TcatError(f"lineage-elman: unknown data {data!r}; use kjv or bible-sample")
    held = lambda ref: ref.rsplit(" ", 1)[0] in TEST_BOOKS  # noqa: E731
    return [t for r, t in verses if not held(r)], [t for r, t in verses if held(r)]


def run(cfg: Config, out) -> dict:
    from ..lineage.elman import (
        LETTERS,
        boundary_gap,
        by_position,
        letter_stream,
        surprisal,
        train_elman,
        unigram_surprisal,
    )

    out = prepare(out)
    clock = Clock()
    train_texts, test_texts = _texts(cfg.data)
    train, _ = letter_stream(train_texts)
    test, initial = letter_stream(test_texts)
    test, initial = test[: cfg.eval_letters], initial[: cfg.eval_letters]
    model, curve = train_elman(train, cfg.hidden, cfg.steps, cfg.chunk, cfg.batch, cfg.lr, cfg.seed)
    bits, freq = surprisal(model, test), unigram_surprisal(train, test)
    first, inner = boundary_gap(bits, initial)
    u_first, u_inner = boundary_gap(freq, initial)
    pos, u_pos = by_position(bits, initial), by_position(freq, initial)

    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100, gridspec_kw={"width_ratios": [1, 2]})
    labels = [str(k) if k < max(pos) else f"{k}+" for k in pos]
    a1.plot(labels, list(pos.values()), "o-", color="#4e79a7", label="Elman network")
    a1.plot(labels, list(u_pos.values()), "s--", color="#e15759", label="letter frequencies (control)")
    a1.set_xlabel("position of the letter in its word")
    a1.set_ylabel("mean surprisal (bits)")
    a1.set_title("held-out books")
    a1.legend()
    a1.grid(alpha=0.3)
    n = 60  # a stretch of held-out text, as in Elman's Figure 6
    a2.plot(range(n), bits[:n], color="#4e79a7")
    a2.set_xticks(range(n))
    a2.set_xticklabels([LETTERS[i] for i in test[1 : n + 1]], fontsize=7)
    for k in range(n):
        if initial[k + 1]:
            a2.axvline(k, color="gray", lw=0.6, ls=":")
    a2.set_ylabel("surprisal (bits)")
    a2.set_title("surprisal letter by letter (dotted: a word starts)")
    fig.tight_layout()
    figure = save_figure(fig, out, "lineage-elman.png")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            "the network's mean surprisal of word-initial letters above that of word-internal letters; "
            "the unigram model's gap below half the network's"
        ),
        metrics={
            "surprisal_word_initial_bits": first,
            "surprisal_word_internal_bits": inner,
            "gap_bits": first - inner,
            "unigram_surprisal_word_initial_bits": u_first,
            "unigram_surprisal_word_internal_bits": u_inner,
            "unigram_gap_bits": u_first - u_inner,
            "held_out_bits_per_letter": sum(bits) / len(bits),
            "unigram_bits_per_letter": sum(freq) / len(freq),
            "training_letters": len(train),
            "held_out_letters": len(test),
            "final_training_loss_bits": curve[-1][1],
        },
        claim_holds=first > inner,
        control_fails=(u_first - u_inner) < 0.5 * (first - inner),
        figures=[figure],
    )
