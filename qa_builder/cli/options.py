"""Options shared by several commands, declared once so that their names, defaults and help agree."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qa_builder.errors import InputError
from qa_builder.files import read_small_file

if TYPE_CHECKING:
    from qa_builder.signing.keys import SigningKey

F = TypeVar("F", bound=Callable[..., Any])

_FILE = click.Path(dir_okay=False, path_type=Path)


def default_jobs() -> int:
    """Parallel work by default: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def jobs_option(what: str) -> Callable[[F], F]:
    """`-j/--jobs N`: how many items run in parallel.

    Args:
        what: The end of the help sentence, e.g. "Agreements built in parallel (one LibreOffice worker each)."
    """
    return click.option("-j", "--jobs", type=click.IntRange(1, 64), default=default_jobs,
                        show_default="cores, max 4", help=what)


MAX_SECRET_FILE = 64 * 1024
"""Bytes read at most from a passphrase or PIN file: a secret is one short line."""


def read_secret(file: Path | None, what: str) -> bytes:
    """A passphrase or PIN: from a file (its first line, as bytes), else asked without echo (Part 11 §11.200).

    The file is read as bytes and only checked to be UTF-8 text (what PKCS#12 passphrases and PKCS#11 PINs
    are); no message ever quotes a byte of it.

    Args:
        file: The passphrase or PIN file, or None to ask in the terminal.
        what: "passphrase" or "pin": names the secret in the prompt and in messages.

    Returns:
        The secret as UTF-8 bytes, without its line ending.

    Raises:
        InputError: the file cannot be read, is not UTF-8 text, or is too large to be a passphrase or PIN file;
            or there is no file and no terminal to ask in.
    """
    if file is not None:
        try:  # a FIFO with no writer, or a device, is refused instead of waited on or read forever
            data = read_small_file(file, MAX_SECRET_FILE)
        except OSError as exc:
            if exc.errno == errno.EFBIG:
                raise InputError(f"{file}: is not a {what} file (larger than {MAX_SECRET_FILE // 1024} KiB)") from None
            raise InputError(f"{file}: cannot read the {what} file ({exc.strerror})") from None
        lines = data.removeprefix(b"\xef\xbb\xbf").splitlines()  # Notepad's UTF-8 byte-order mark is no part of it
        secret = lines[0] if lines else b""
        try:
            secret.decode("utf-8")
        except UnicodeDecodeError:  # from None: the decoding error quotes bytes of the secret
            raise InputError(f"{file}: the {what} file is not UTF-8 text; save it as UTF-8 text") from None
        return secret
    if not sys.stdin.isatty():
        raise InputError(f"no {what}: pass --{what.replace(' ', '-')}-file FILE, or run in a terminal to type it")
    return click.prompt(f"{what.capitalize()}", hide_input=True).encode("utf-8")


@dataclass(frozen=True)
class KeyChoice:
    """The signing key a command's options name: a PKCS#12 file, or a key on a PKCS#11 token (one of the two).

    Only where the key is found; the passphrase or PIN is read when the key is loaded, never kept here.
    """

    key_file: Path | None = None
    passphrase_file: Path | None = None
    pkcs11_module: Path | None = None
    token_label: str | None = None
    key_label: str | None = None
    pin_file: Path | None = None

    def given(self) -> list[str]:
        """The key-choosing options given, by their flag (e.g. ["--key"]), to name them in a message."""
        return [flag for flag, value in (("--key", self.key_file), ("--pkcs11-module", self.pkcs11_module)) if value]

    def load(self) -> SigningKey:
        """Load the key: its passphrase or PIN from the file given, else typed without echo.

        Raises:
            InputError: both or neither of --key and --pkcs11-module, a token key without its labels, or an
                unreadable passphrase or PIN file.
            SigningError: the key cannot be opened or is not fit to sign (qa_builder.signing.keys).
        """
        from qa_builder.signing.keys import load_pkcs11_key, load_pkcs12_key

        if self.key_file is not None and self.pkcs11_module is not None:
            raise InputError("give either --key or --pkcs11-module, not both")
        if self.key_file is not None:
            return load_pkcs12_key(self.key_file, read_secret(self.passphrase_file, "passphrase"))
        if self.pkcs11_module is not None:
            if not self.token_label or not self.key_label:
                raise InputError("a PKCS#11 key needs --token-label and --key-label")
            return load_pkcs11_key(self.pkcs11_module, self.token_label, self.key_label,
                                   read_secret(self.pin_file, "pin"))
        raise InputError("signing needs a key: --key FILE.p12, or --pkcs11-module LIB with --token-label and "
                         "--key-label")


_KEY_OPTIONS = (
    click.option("--key", "key_file", type=_FILE, help="PKCS#12 key file."),
    click.option("--passphrase-file", type=_FILE,
                 help="File holding the PKCS#12 passphrase; asked without echo when omitted."),
    click.option("--pkcs11-module", type=_FILE,
                 help="PKCS#11 library of a token (e.g. /usr/lib/softhsm/libsofthsm2.so), instead of --key."),
    click.option("--token-label", help="Label of the PKCS#11 token."),
    click.option("--key-label", help="Label of the key (and its certificate) on the token."),
    click.option("--pin-file", type=_FILE, help="File holding the token PIN; asked without echo when omitted."),
)


def key_options(command: F) -> F:
    """The key-choosing options (`--key`, `--passphrase-file`, `--pkcs11-module`, `--token-label`, `--key-label`,
    `--pin-file`), handed to the command as one argument `key: KeyChoice`.

    Used by `sign`, `manifest` and `audit seal`, so the three choose a key with the same words and help.
    """
    fields = ("key_file", "passphrase_file", "pkcs11_module", "token_label", "key_label", "pin_file")

    @functools.wraps(command)
    def with_key(*args: Any, **kwargs: Any) -> Any:
        kwargs["key"] = KeyChoice(**{name: kwargs.pop(name) for name in fields})
        return command(*args, **kwargs)

    decorated: Any = with_key
    for option in reversed(_KEY_OPTIONS):  # applied last first, so --help lists them in the order above
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
