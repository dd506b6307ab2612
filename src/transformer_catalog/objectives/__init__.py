"""The pretraining objectives of the catalog's taxonomy, by name.

  clm          causal LM (GPT)                              decoder
  prefix-lm    prefix LM (UL2, GLM)                         decoder
  plm          permutation LM (XLNet-style, one stream)     decoder
  mlm          masked LM (BERT); mlm-wwm, mlm-nsp, mlm-sop  encoder
  rtd          replaced-token detection (ELECTRA)           encoder
  span         span corruption (T5)                         encoder-decoder
  denoise      text infilling + sentence permutation (BART) encoder-decoder
  contrastive  in-batch InfoNCE over sentence pairs          encoder
"""

from __future__ import annotations

from ..errors import TcatError
from .base import IGNORE, Objective, Vocab
from .causal import CausalLM, PermutedLM, PrefixLM
from .contrastive import InBatchContrastive
from .denoising import Denoising, SpanCorruption
from .masked import MaskedLM, ReplacedTokenDetection

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


def make_objective(name: str, vocab: Vocab, **kwargs) -> Objective:
    if name not in OBJECTIVES:
        raise TcatError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](vocab, **kwargs)


def describe(name: str) -> Objective:
    """The objective with placeholder token ids: for its arch and takes_pairs before any data is read."""
    return make_objective(name, Vocab(size=8, pad=0, bos=1, eos=2, mask=3, sentinels=(4,)))


__all__ = ["IGNORE", "OBJECTIVES", "Objective", "Vocab", "describe", "make_objective"]
