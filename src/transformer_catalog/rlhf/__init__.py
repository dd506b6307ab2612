"""Learning from human feedback: SFT, a Bradley-Terry reward model, PPO, DPO / IPO / KTO and GRPO (issue 13).

The data are VADER's four human-rated sets (pairs.py: preference pairs split by snippet, the raters'
agreement ceiling, VADER's lexicon as an independent judge). The stages, as Python (stages.py) and as
`tcat rlhf sft|reward|ppo|dpo|grpo`:

  sft.py      a tcat GPT trained on the training snippets through the one trainer
  reward.py   Bradley-Terry reward model: all-MiniLM-L6-v2 (or any encoder) + a scalar head; load_scorer(run)
  ppo.py      actor-critic PPO against the reward model: frozen reference, adaptive per-token KL penalty,
              GAE and whitening (losses.py), clipped policy and value losses, rollouts through the KV cache
  dpo.py      DPO / IPO / KTO on sampled-and-ranked or human pairs; grpo.py + additions.py: GRPO on sums
  losses.py   the losses on tensors, held to TRL's implementations (tests/test_rlhf_losses.py)

Nothing here is imported by `tcat --help` or the catalog commands: submodules import torch.
"""
