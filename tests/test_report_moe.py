"""benchmarks/report_moe.py renders the shipped latent-attention decoding result, its numbers read
from results/mla.json (never literals), and says what to run when the result is missing."""

import json
from pathlib import Path

from repo_scripts import script_module

ROOT = Path(__file__).resolve().parent.parent
report_moe = script_module("report_moe")


def test_section_reads_the_shipped_result(tmp_path, monkeypatch):
    shipped = json.loads((ROOT / "benchmarks" / "results" / "mla.json").read_text())
    lines: list[str] = []
    report_moe.section(lines)
    text = "\n".join(lines)
    for row in shipped["rows"]:
        assert f"| {row['context']:,} | {row['expanded_ms']:.1f} | {row['absorbed_ms']:.1f} |" in text
        assert row["max_abs_diff"] < 1e-5  # the two ways compute the same attention
    assert shipped["machine"]["cpu"] in text and shipped["command"] in text
    monkeypatch.setattr(report_moe, "RESULTS", tmp_path)
    missing: list[str] = []
    report_moe.section(missing)
    assert "Not measured yet: run `OMP_NUM_THREADS=1 python benchmarks/bench_mla.py`." in missing
