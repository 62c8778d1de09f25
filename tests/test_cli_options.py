"""Options shared by several commands are declared once (issue 16, point 6): same names, same help, same checks."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from qa_builder.cli import main
from qa_builder.cli.options import KeyChoice
from qa_builder.errors import InputError

KEY_FLAGS = ["--key", "--passphrase-file", "--pkcs11-module", "--token-label", "--key-label", "--pin-file"]


def _command(*words: str) -> click.Command:
    command: click.Command = main
    for word in words:
        assert isinstance(command, click.Group)
        command = command.commands[word]
    return command


def _options(command: click.Command) -> dict[str, str]:
    return {p.opts[-1]: p.help or "" for p in command.params if isinstance(p, click.Option)}


@pytest.mark.parametrize("words", [("sign",), ("manifest",), ("audit", "seal")])
def test_key_choosing_options_are_the_same_in_every_signing_command(words: tuple[str, ...]) -> None:
    options = _options(_command(*words))
    assert [flag for flag in options if flag in KEY_FLAGS] == KEY_FLAGS  # all six, in this order
    assert {flag: options[flag] for flag in KEY_FLAGS} == {flag: _options(_command("sign"))[flag] for flag in KEY_FLAGS}
    assert "asked without echo" in options["--pin-file"]


def test_key_choice_refuses_both_and_neither_before_reading_any_secret(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="either --key or --pkcs11-module"):
        KeyChoice(key_file=tmp_path / "a.p12", pkcs11_module=tmp_path / "lib.so").load()
    with pytest.raises(InputError, match="signing needs a key"):
        KeyChoice().load()
    with pytest.raises(InputError, match="--token-label and --key-label"):
        KeyChoice(pkcs11_module=tmp_path / "lib.so", token_label="t").load()
    assert KeyChoice(pkcs11_module=tmp_path / "lib.so").given() == ["--pkcs11-module"]


@pytest.mark.parametrize("name", ["accept", "reject", "counter", "keep-override", "drop-override"])
def test_every_negotiate_decision_takes_the_same_arguments_and_by_and_reason(name: str) -> None:
    command = _command("negotiate", name)
    assert [p.name for p in command.params][:5] == ["workspace", "agreement_id", "clause", "by", "reason"]
    assert all(p.required for p in command.params[:5])
    assert {k: v for k, v in _options(command).items() if k in ("--by", "--reason")} == {
        "--by": "Who decides: the approver's name as they sign.",
        "--reason": "Why (kept in the record and the audit trail)."}
