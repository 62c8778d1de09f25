"""Shared fixtures: paths, answers variants, and one warm LibreOffice pool per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
MINI_LIBRARY = FIXTURES / "mini_library"
MINIMAL_ANSWERS = FIXTURES / "answers" / "minimal.yaml"
EXAMPLES = ROOT / "examples"
DEMO_EXAMPLE = EXAMPLES / "us-eu-drug-product-cmo.yaml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """LibreOffice tests never skip in CI; elsewhere they skip when LibreOffice is absent."""
    if shutil.which("soffice") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not installed; run `make test` to install it")
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def converter() -> Iterator[Any]:
    """One warm two-worker LibreOffice pool for the whole session."""
    from qa_builder.render.pdf import PdfConverter

    with PdfConverter(workers=2) as pool:
        yield pool


def answers_data(path: Path = MINIMAL_ANSWERS) -> dict[str, Any]:
    """The answers file as plain data, to vary in a test."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def write_answers(folder: Path, data: dict[str, Any], name: str = "answers.yaml") -> Path:
    """Write answers data as YAML into `folder`."""
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A TEST PKI with its TSA, OCSP responder and CRLs served on 127.0.0.1 for the whole session."""
    from qa_builder.signing.testpki import create_test_pki
    from qa_builder.signing.testservices import TestPkiServer

    pki = create_test_pki(tmp_path_factory.mktemp("pki") / "pki", port=free_port())
    with TestPkiServer(pki):
        yield pki
