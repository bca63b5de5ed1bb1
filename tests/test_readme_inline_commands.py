"""The commands the README names inside its prose run as written too (``tests/test_readme_commands.py`` runs its
```bash blocks): every inline `xai-study …` parses with that subcommand's own options (a mention such as `xai-study export
--include-pilot` need not repeat the required options, but every option it names must exist and take the value
it gives), and the power examples
(with each effect the text offers as an alternative) get through the command's checks to a design and an effect.

A study file the reader writes (``study.toml``, ``my_study.toml``) is the bundled demo here. References with
UPPERCASE placeholders (``--study FILE``) name an option's shape, not a command to run, and are only parsed with
a placeholder value. ``xai-study power --effect h:0.2`` once stopped with "needs --baseline": the README's
alternatives are checked, not only its first example.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

from study_app.cli import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO = ROOT / "demo" / "study.toml"
READERS_STUDY = {"study.toml", "my_study.toml", "../my_study/study.toml"}
PLACEHOLDER = re.compile(r"\b(FILE|DIR|URL|N|DATE|SUBCOMMAND)\b|…")


def prose(text: str) -> str:
    """The README without its fenced blocks and tables, lines joined so that a span broken over lines is whole."""
    text = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.M | re.S)
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("|")]
    return " ".join(lines)


def inline_commands(text: str) -> list[str]:
    return sorted({m.strip() for m in re.findall(r"`((?:\.venv/bin/)?xai-study\s[^`]+)`", prose(text))})


COMMANDS = [c for c in inline_commands(README.read_text(encoding="utf-8"))
            if not PLACEHOLDER.fullmatch(shlex.split(c)[1])]  # `xai-study SUBCOMMAND`, `xai-study …`: the tool


def as_run_here(command: str) -> list[str]:
    words = shlex.split(command)[1:]
    words = [str(DEMO) if w in READERS_STUDY else w for w in words]
    return [w if not PLACEHOLDER.fullmatch(w) else "placeholder" for w in words]


def parsed(words: list[str], *, mention: bool = False) -> argparse.Namespace:
    """The subcommand's own parse of ``words`` (``mention``: required options may be left out)."""
    name, rest = words[0], words[1:]
    assert name in SUBCOMMANDS, f"{name!r} is not a subcommand"
    module_name, help_ = SUBCOMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"xai-study {name}", exit_on_error=False)
    importlib.import_module(module_name).add_arguments(parser)
    for action in parser._actions if mention else ():
        action.required = False
    try:
        return parser.parse_args(rest)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise AssertionError(f"xai-study {' '.join(words)}: {exc}") from exc


def test_the_readme_names_inline_commands():
    assert len(COMMANDS) >= 10 and any(c.startswith("xai-study power") for c in COMMANDS), COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_inline_command_parses_as_written(command):
    parsed(as_run_here(command), mention=True)


def power_examples(text: str) -> list[list[str]]:
    """Each power command of the prose, and the same with every effect offered after it as "(or `…`, `…`)"."""
    flat = prose(text)
    out = []
    for found in re.finditer(r"`((?:\.venv/bin/)?xai-study power\s[^`]+)`(?:\s*\(or ([^)]*)\))?", flat):
        words = as_run_here(found.group(1))
        out.append(words)
        for alternative in re.findall(r"`([^`]+)`", found.group(2) or ""):
            head = words[:words.index("--effect")] if "--effect" in words else words
            out.append(head + ["--effect", *shlex.split(alternative)])
    return out


@pytest.mark.slow
def test_the_power_examples_and_their_alternatives_get_through_the_checks():
    from study_app.analysis import power_cli  # noqa: PLC0415 - the command's own checks

    examples = power_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 3, examples  # the example and at least two alternative effects
    for words in examples:
        setup = power_cli.build(parsed(words))
        assert setup is not None, words
