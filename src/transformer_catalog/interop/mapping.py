"""Moved to families/_rules.py (the rule engine lives beside the families that write rules);
re-exported here for callers of the old place."""

from ..families._rules import Rule, hf_to_ours, linear, ours_to_hf, rule

__all__ = ["Rule", "hf_to_ours", "linear", "ours_to_hf", "rule"]
