"""Looking inside models: hook points (nn/hooks.py: run_with_cache, hooks), attention maps
(maps.py), the logit lens (lens.py), activation patching and ablation (patching.py). These are
analyses over the core alone (they import only nn/ and errors), so experiments can use them; the
command that opens models for them is cli/inspect.py."""

from ..nn.hooks import hidden_state_names, hook_names, hooks, run_with_cache
from .lens import LensResult, logit_lens
from .maps import attention_maps, heatmap, pattern_names, svg_heatmap
from .patching import ablate, logit_diff, patch, patching_effect

__all__ = [
    "LensResult",
    "ablate",
    "attention_maps",
    "heatmap",
    "hidden_state_names",
    "hook_names",
    "hooks",
    "logit_diff",
    "logit_lens",
    "patch",
    "patching_effect",
    "pattern_names",
    "run_with_cache",
    "svg_heatmap",
]
