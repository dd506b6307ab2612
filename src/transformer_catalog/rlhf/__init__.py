"""Learning from human feedback: SFT, a Bradley-Terry reward model, PPO, DPO / IPO / KTO and GRPO (issue 13)."""
