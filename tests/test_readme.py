"""The README's commands are true: every `tcat ...` line of its shell blocks parses with tcat's own parser
(names, flags and choices exist; nothing is run)."""

import re
import shlex
from pathlib import Path

import pytest

from transformer_catalog import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for line in (ln for block in blocks for ln in block.splitlines()):
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words[:1] == ["tcat"]:
                found.append(shlex.join(words[1:]))
    return found


def test_the_readme_shows_commands():
    assert len(_commands()) > 60


@pytest.mark.parametrize("command", _commands())
def test_a_readme_command_parses(command):
    try:
        cli.parser().parse_args(shlex.split(command))
    except SystemExit as e:
        pytest.fail(f"README: `tcat {command}` does not parse (exit {e.code})")
