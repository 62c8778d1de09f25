"""The README's command documentation cannot drift from the CLI (issue 16, docs that cannot drift)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from qa_builder.cli import main as cli_root

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import command_reference  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _overview_table() -> str:
    start = README.index("## Commands")
    return README[start : README.index("\n## ", start + 1)]


def test_generated_reference_matches_the_cli() -> None:
    assert command_reference.rendered_readme(README, cli_root) == README, (
        "README.md's command reference is out of date: run `make docs`"
    )


def test_reference_lists_every_command_and_option() -> None:
    text = command_reference.section(cli_root)
    for path, command in command_reference.walk(cli_root, []):
        assert f"### `qa-builder {' '.join(path)}`" in text
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert any(opt in text for opt in param.opts), (path, param.opts)


def _commands() -> dict[str, click.Command]:
    return {" ".join(path): command for path, command in command_reference.walk(cli_root, [])}


def test_overview_table_names_every_command() -> None:
    table = _overview_table()
    for name, command in _commands().items():
        if isinstance(command, click.Group):
            continue
        assert f"`qa-builder {name}" in table or f"qa-builder {name} " in table, f"{name} missing from ## Commands"


def test_overview_table_options_exist() -> None:
    commands = _commands()
    for row in _overview_table().splitlines():
        for cell in re.findall(r"`qa-builder ([a-z ]+?) [^`]*`", row):
            words = cell.split()
            name = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), None)
            assert name is not None, f"unknown command in ## Commands: {cell}"
        for usage in re.findall(r"`(qa-builder [^`]*)`", row):
            words = usage.split()[1:]
            name = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), None)
            if name is None:
                continue
            known = {opt for p in commands[name].params for opt in getattr(p, "opts", [])}
            known |= {"--debug", "--help", "-h", "--version"}
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", usage):
                assert option in known, f"`{usage}` names {option}, which `qa-builder {name}` does not have"


def test_check_mode_detects_drift() -> None:
    stale = README.replace("### `qa-builder build`", "### `qa-builder build-old`", 1)
    assert stale != command_reference.rendered_readme(stale, cli_root)
