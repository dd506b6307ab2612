"""The pretraining objectives of the catalog's taxonomy, by name.

  clm          causal LM (GPT)                              decoder
  prefix-lm    prefix LM (UL2, GLM)                         decoder
  plm          permutation LM (XLNet-style, one stream)     decoder
  mlm          masked LM (BERT); mlm-wwm, mlm-nsp, mlm-sop  encoder
  rtd          replaced-token detection (ELECTRA)           encoder
  span         span corruption (T5)                         encoder-decoder
  denoise      text infilling + sentence permutation (BART) encoder-decoder
  contrastive  in-batch InfoNCE over sentence pairs          encoder

and the sequence-to-sequence tasks (SEQ2SEQ), one objective over parallel text or synthetic pairs:

  translate    source -> target, label-smoothed cross-entropy  encoder-decoder
  copy         the source itself (the copy task)                encoder-decoder
"""

from __future__ import annotations

from ..errors import TcatError
from .base import IGNORE, Objective, Vocab
from .causal import CausalLM, PermutedLM, PrefixLM
from .contrastive import InBatchContrastive
from .denoising import Denoising, SpanCorruption
from .masked import MaskedLM, ReplacedTokenDetection
from .seq2seq import Seq2Seq

OBJECTIVES = {
    "clm": CausalLM,
    "prefix-lm": PrefixLM,
    "plm": PermutedLM,
    "mlm": MaskedLM,
    "mlm-wwm": lambda vocab, **kw: MaskedLM(vocab, whole_word=True, name="mlm-wwm", **kw),
    "mlm-nsp": lambda vocab, **kw: MaskedLM(vocab, pair_task="nsp", name="mlm-nsp", **kw),
    "mlm-sop": lambda vocab, **kw: MaskedLM(vocab, pair_task="sop", name="mlm-sop", **kw),
    "rtd": ReplacedTokenDetection,
    "span": SpanCorruption,
    "denoise": Denoising,
    "contrastive": InBatchContrastive,
}

SEQ2SEQ = {
    "translate": lambda vocab, **kw: Seq2Seq(vocab, name="translate", **kw),
    "copy": lambda vocab, **kw: Seq2Seq(vocab, name="copy", **kw),
}


def make_objective(name: str, vocab: Vocab, **kwargs) -> Objective:
    """A pretraining objective (OBJECTIVES) or a sequence-to-sequence one (SEQ2SEQ), by name."""
    factory = OBJECTIVES.get(name) or SEQ2SEQ.get(name)
    if factory is None:
        raise TcatError(f"unknown objective {name!r}; known: {', '.join([*SEQ2SEQ, *OBJECTIVES])}")
    return factory(vocab, **kwargs)


def describe(name: str) -> Objective:
    """The objective with placeholder token ids: for its arch and takes_pairs before any data is read."""
    return make_objective(name, Vocab(size=8, pad=0, bos=1, eos=2, mask=3, sentinels=(4,)))


__all__ = ["IGNORE", "OBJECTIVES", "SEQ2SEQ", "Objective", "Seq2Seq", "Vocab", "describe", "make_objective"]
