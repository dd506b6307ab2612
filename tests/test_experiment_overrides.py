"""`tcat experiments run NAME --set FIELD=VALUE`: a Config field changed by its own type, or refused in one line."""

import dataclasses

import pytest

from transformer_catalog.errors import TcatError
from transformer_catalog.experiments.base import override


@dataclasses.dataclass
class Cfg:
    setting: str = "full"
    steps: int = 10
    lr: float = 1e-3
    tied: bool = True
    data: str = "kjv"
    grid: tuple = ((1e9, (0, 1)),)


def test_each_value_is_read_as_its_fields_type():
    cfg = override(Cfg(), ["steps=20", "lr=3e-3", "tied=false", "data=web", "grid=[[1e10, [2]]]"])
    assert cfg == Cfg(steps=20, lr=3e-3, tied=False, data="web", grid=([1e10, [2]],))
    assert isinstance(cfg.steps, int) and isinstance(cfg.lr, float) and cfg.tied is False
    assert override(Cfg(), []) == Cfg()


@pytest.mark.parametrize(
    "item, message",
    [
        ("steps", "expected FIELD=VALUE"),
        ("=3", "expected FIELD=VALUE"),
        ("nope=1", "unknown field; fields: steps, lr, tied, data, grid"),
        ("setting=tiny", "unknown field"),
        ("steps=1.5", "expected a value like 10 (int)"),
        ("lr=nan", "expected a value like 0.001 (float)"),
        ("tied=yes", "expected a value like True (bool)"),
        ("grid=[1,", "expected a value like"),
    ],
)
def test_bad_assignments_are_refused_in_one_line(item, message):
    with pytest.raises(TcatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        override(Cfg(), [item])
