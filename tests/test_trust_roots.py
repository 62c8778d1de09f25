"""Trust root files are read in one place (qa_builder.signing.trust) for signing and verifying (issue 16)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from qa_builder.errors import InputError
from qa_builder.signing.trust import load_trust_roots


def test_a_bundle_is_read_whole_unless_one_per_file(test_pki: Any, tmp_path: Path) -> None:
    root = Path(test_pki.root_pem)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(root.read_bytes() * 2)
    assert len(load_trust_roots([root, bundle])) == 3
    assert load_trust_roots([root], one_per_file=True)[0].subject == load_trust_roots([bundle])[1].subject
    with pytest.raises(InputError, match=r"bundle\.pem: holds 2 certificates; a trust root file holds exactly one"):
        load_trust_roots([root, bundle], one_per_file=True)


@pytest.mark.parametrize(("content", "message"), [
    (None, "missing.pem: the trust root cannot be read"),
    (b"", "empty.pem: is not a PEM or DER certificate file"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "key.pem: holds no certificate"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n", "bad.pem: is not a"),
])
def test_an_unusable_file_is_named(tmp_path: Path, content: bytes | None, message: str) -> None:
    name = message.split(":")[0]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)):
        load_trust_roots([path])


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "root.pem"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"root\.pem: the trust root cannot be read"):
        load_trust_roots([fifo])
