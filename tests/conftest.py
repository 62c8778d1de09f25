"""Shared fixtures: paths, answers variants, and one warm LibreOffice pool per test session."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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


#: Test files by the time they take, longest first (seconds of one run on the 2-core CI machine, session 6). Under
#: pytest-xdist (`--dist loadfile --no-loadscope-reorder`) each file runs whole on one worker, and a worker takes
#: the next file in collection order when it runs dry: starting with the longest files keeps both workers busy to
#: the end instead of leaving one to finish test_web.py alone. Files not listed follow in their usual order.
LONGEST_FIRST = (
    "test_verify.py", "test_consistency.py", "test_web.py", "test_files.py", "test_bad_input.py",
    "test_negotiation_decisions.py", "test_security_cli.py", "test_web_pages.py", "test_cli.py", "test_typeset.py",
    "test_workspace.py", "test_convert.py", "test_sandbox.py", "test_sign.py", "test_pdf_says_what_docx_says.py",
    "test_redline.py", "test_arrangements.py", "test_appearance.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the longest files first (see LONGEST_FIRST). LibreOffice tests never skip in CI; elsewhere
    they skip when LibreOffice is absent."""
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the same order on every worker: xdist checks the collections agree
        rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order
    if shutil.which("soffice") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not installed; run `make test` to install it")
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def converter() -> Iterator[Any]:
    """One warm LibreOffice pool for the whole session: two workers, or one per pytest-xdist worker process
    (each xdist worker has its own session, and the machine's cores are already shared between them)."""
    from qa_builder.render.pdf import PdfConverter

    with PdfConverter(workers=1 if os.environ.get("PYTEST_XDIST_WORKER") else 2) as pool:
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
    from qa_builder.testing.pki import create_test_pki
    from qa_builder.testing.services import TestPkiServer

    pki = create_test_pki(tmp_path_factory.mktemp("pki") / "pki", port=free_port())
    with TestPkiServer(pki):
        yield pki


SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


def make_softhsm_token(folder: Path, pki: Any, *, label: str = "qa-token", pin: str = "4321",
                       certificate_of: str = "sponsor") -> Path:
    """A SoftHSM2 token in `folder` holding the test PKI's sponsor key and certificate; returns its config file.

    Point SOFTHSM2_CONF at the returned file before the module is first initialised in the process.
    `certificate_of` puts another signer's certificate beside the sponsor's key (a token set up wrongly).
    """
    import subprocess

    from cryptography.hazmat.primitives import serialization

    assert SOFTHSM_MODULE.is_file() and shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    config = folder / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n", encoding="utf-8")
    env = {"SOFTHSM2_CONF": str(config), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, env=env, timeout=60)

    run("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "9999", "--pin", pin)
    key, certificate, _chain = pki.load_key_and_certificates("sponsor")
    wrapped = folder / "key.pem"  # encrypted PKCS#8: no private key is ever written in the clear
    wrapped.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(b"import-pass")))
    run("softhsm2-util", "--import", str(wrapped), "--file-pin", "import-pass", "--token", label,
        "--label", "sponsor", "--id", "01", "--pin", pin)
    der = folder / "sponsor.der"
    if certificate_of != "sponsor":
        certificate = pki.load_key_and_certificates(certificate_of)[1]
    der.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    run("pkcs11-tool", "--module", str(SOFTHSM_MODULE), "--token-label", label, "--login", "--pin", pin,
        "--write-object", str(der), "--type", "cert", "--label", "sponsor", "--id", "01")
    return config


@pytest.fixture
def softhsm_token(tmp_path: Path, test_pki: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SoftHSM2 token (label qa-token, PIN 4321, key and certificate `sponsor`) for one test.

    PKCS#11 modules are initialised once per process, so afterwards every session is closed and the module
    unloaded: the next test that points SOFTHSM2_CONF elsewhere gets a module that reads its own tokens.
    """
    import pkcs11

    from qa_builder.signing.keys import close_pkcs11_sessions

    monkeypatch.setenv("SOFTHSM2_CONF", str(make_softhsm_token(tmp_path / "softhsm", test_pki)))
    close_pkcs11_sessions()  # a session left open by an earlier test dies with the module: close it first
    pkcs11.unload(str(SOFTHSM_MODULE))
    yield SOFTHSM_MODULE
    close_pkcs11_sessions()
    pkcs11.unload(str(SOFTHSM_MODULE))


#: The date every test takes as today (review checks): fixtures and examples are not yet due for review then.
TEST_TODAY = dt.date(2026, 11, 29)


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """Pin the review date for every test and the CLI processes it starts, so tests do not age.

    Without it the minimal fixture's periodic review falls due on 2028-06-01 and the tests would fail from then.
    """
    from qa_builder.config import TODAY_ENV

    monkeypatch.setenv(TODAY_ENV, TEST_TODAY.isoformat())
    return TEST_TODAY


@dataclass(frozen=True)
class CliResult:
    """What a command printed and its exit status, as a user would see them."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
    """Run `qa-builder ARGS...` in this process with Click's runner (no ~1 s interpreter start per call).

    The command's error mapping, exit codes and stdout/stderr are the real ones; only the process is shared.
    """
    from click.testing import CliRunner

    from qa_builder.cli import main

    result = CliRunner().invoke(main, list(args), env=env, input=input, prog_name="qa-builder")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug in the test harness or an escaped exception: show it
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def minimal_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal agreement built once per session with the default PDF engine (Typst):
    QA-MIN-1_v1.docx, .pdf (with fields) and .build.json.

    Shared: read it, or copy it (shutil.copytree) before writing anything next to it.
    """
    from qa_builder.builds.pipeline import BuildSettings, build_one
    from qa_builder.library.loader import load_library
    from qa_builder.render.docx import default_template_path

    out = tmp_path_factory.mktemp("minimal-build")
    build_one(MINIMAL_ANSWERS, BuildSettings(out_dir=out, library=load_library(MINI_LIBRARY),
                                             template=default_template_path()))
    return out


@pytest.fixture(scope="session")
def minimal_build_libreoffice(tmp_path_factory: pytest.TempPathFactory, converter: Any) -> Path:
    """`minimal_build` with `--pdf-engine libreoffice`: the PDF is LibreOffice's conversion of the DOCX."""
    from qa_builder.builds.pipeline import BuildSettings, build_one
    from qa_builder.library.loader import load_library
    from qa_builder.render.docx import default_template_path

    out = tmp_path_factory.mktemp("minimal-build-libreoffice")
    build_one(MINIMAL_ANSWERS, BuildSettings(out_dir=out, library=load_library(MINI_LIBRARY),
                                             template=default_template_path(), pdf_engine="libreoffice"), converter)
    return out


@pytest.fixture(scope="session")
def signed_build(tmp_path_factory: pytest.TempPathFactory, minimal_build: Path, test_pki: Any) -> Path:
    """A copy of `minimal_build` with QA-MIN-1_v1.signed.pdf: the sponsor certifies (B-LT), then the contract
    acceptor approves (B-LTA), as `make demo` signs. Made once per session; copy it before writing into it."""
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest, sign_pdf

    out = tmp_path_factory.mktemp("signed-build") / "build"
    shutil.copytree(minimal_build, out)
    first = out.parent / "certified.pdf"
    for field, signer, source, target, level in (
            ("sig_sponsor_1", "sponsor", out / "QA-MIN-1_v1.pdf", first, "B-LT"),
            ("sig_contract_acceptor_1", "contract-acceptor", first, out / "QA-MIN-1_v1.signed.pdf", "B-LTA")):
        request = SignatureRequest(field=field, meaning="approval", certify=signer == "sponsor",
                                   level=level, tsa_url=test_pki.tsa_url,  # type: ignore[arg-type]
                                   trust_roots=(test_pki.root_pem,))
        sign_pdf(source, target, request, load_pkcs12_key(test_pki.p12(signer), test_pki.passphrase()))
    return out


def self_signed_p12(path: Path, common_name: str) -> Path:
    """A self-signed P-256 signer (key usage: digital signature, non-repudiation; 30 days) as PKCS#12 at `path`,
    passphrase `pw`: for certificate names the test PKI cannot issue."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=False, crl_sign=False, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(key, hashes.SHA256()))
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", key, certificate, None, serialization.BestAvailableEncryption(b"pw")))
    return path
