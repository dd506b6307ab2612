import json


def test_damaged_breakdown_cache_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("TCAT_CACHE", str(tmp_path))
    from transformer_catalog.catalog.breakdown import _key, breakdown
    from transformer_catalog.catalog.load import load_catalog

    entry = load_catalog().find("GPT-2")
    good = breakdown(entry)
    path = tmp_path / f"breakdown-{_key(entry)}.json"
    assert path.is_file() and breakdown(entry, compute=False) == good
    for damage in (b"[1, 2]", b'{"variant": 3}', json.dumps([{"variant": "x"}]).encode(), b"\xff\xfe"):
        path.write_bytes(damage)
        assert breakdown(entry, compute=False) is None  # never a wrong-shaped answer
        assert breakdown(entry) == good  # recomputed and rewritten
