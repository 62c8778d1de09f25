"""The demo: the bundled example through the whole pipeline (build, test PKI, sign, check)."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa_builder.errors import Hint, InputError, Remedy

if TYPE_CHECKING:
    from qa_builder.builds.pipeline import BuildSettings, Format
    from qa_builder.models.answers import SignatureMeaning as Meaning

EXAMPLE_FILE = "us-eu-drug-product-cmo.yaml"


def run_demo(out_dir: Path, *, force: bool = False) -> DemoResult:
    """Build the bundled example into `out_dir`, sign it with a TEST PKI, verify everything, and report.

    It uses only names of the public API (`qa_builder`), imported from their home modules: the package root
    re-exports `run_demo`, so importing the root from here would make an import cycle.
    """
    from qa_builder.answers.load import load_answers
    from qa_builder.api import build, verify_files
    from qa_builder.audited import sign_pdf, write_signed_manifest
    from qa_builder.bundled import examples_dir
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest
    from qa_builder.testing.pki import create_test_pki
    from qa_builder.testing.services import TestPkiServer
    from qa_builder.verify.policy import VerifySettings
    from qa_builder.verify.report import exit_code
    from qa_builder.verify.text import describe

    example = examples_dir() / EXAMPLE_FILE
    pki_dir = out_dir / "test-pki"
    if (pki_dir.exists() or pki_dir.is_symlink()) and not force:  # before building: a refusal leaves nothing
        raise InputError(f"{pki_dir} already exists", hint=Hint(Remedy.REPLACE_OUTPUT, subject="the demo's test PKI"))
    result = build(example, demo_settings(out_dir, force=force))  # typesets the PDF with Typst
    lines = [f"Example answers: {example}", f"Built agreement {result.agreement_id} version {result.version}:"]
    lines += [f"  {path}" for path in result.files]
    if result.record is not None:
        lines.append(f"  model digest {result.record.model_digest}")
        lines.append(f"  empty signature fields: {', '.join(result.record.signature_fields)}")

    # A throwaway TEST PKI whose signers are the example's signatories, and its TSA/OCSP/CRL on loopback.
    answers = load_answers(example).answers
    if pki_dir.exists():
        shutil.rmtree(pki_dir)  # only with --force: refused before anything was built otherwise
    counts = {"sponsor": 0, "contract_acceptor": 0}
    signers: dict[str, tuple[str, str, str]] = {}
    plan: list[tuple[str, str, Meaning]] = []  # (field, signer key name, meaning)
    names = {"sponsor": answers.sponsor.name, "contract_acceptor": answers.contract_acceptor.name}
    for party in ("sponsor", "contract_acceptor"):
        for signatory in (s for s in answers.signatories if s.party == party):
            counts[party] += 1
            key_name = f"{party.replace('_', '-')}-{counts[party]}"
            signers[key_name] = (signatory.name, signatory.title, names[party])
            plan.append((f"sig_{party}_{counts[party]}", key_name, signatory.meaning))
    pki = create_test_pki(pki_dir, port=_free_port(), signers=signers)
    lines.append(f"TEST ONLY PKI: {pki.directory} (trust root {pki.root_pem})")
    built_pdf = next(path for path in result.files if path.suffix == ".pdf")
    current = built_pdf
    stem = current.name.removesuffix(".pdf")
    signed = out_dir / f"{stem}.signed.pdf"
    signed_b_lt = out_dir / f"{stem}.signed-b-lt.pdf"
    steps: list[Path] = []
    with TestPkiServer(pki):
        for index, (field, key_name, meaning) in enumerate(plan):
            last = index == len(plan) - 1
            target = signed if last else out_dir / f".{stem}.signing-{index}.pdf"
            request = SignatureRequest(field=field, meaning=meaning, certify=index == 0,
                                       level="B-LTA" if last else "B-LT", tsa_url=pki.tsa_url,
                                       trust_roots=(pki.root_pem,))
            outcome = sign_pdf(current, target, request, load_pkcs12_key(pki.p12(key_name), pki.passphrase()),
                               force=force or not last)
            kind = "certified" if outcome.certified else "approved"
            lines.append(f"  {kind} {field} as {outcome.signer} ({outcome.meaning}, {outcome.level}) at "
                         f"{outcome.signed_at:%Y-%m-%d %H:%M:%S} UTC from the TSA")
            steps.append(target)
            current = target
        for step in steps[:-1]:
            step.unlink(missing_ok=True)
        # A copy with ONE signature at B-LT (no archive timestamp): the sponsor's certification alone.
        field, key_name, meaning = plan[0]
        request = SignatureRequest(field=field, meaning=meaning, certify=True, level="B-LT",
                                   tsa_url=pki.tsa_url, trust_roots=(pki.root_pem,))
        outcome = sign_pdf(built_pdf, signed_b_lt, request,
                           load_pkcs12_key(pki.p12(key_name), pki.passphrase()), force=force)
        lines.append(f"  B-LT copy: certified {field} as {outcome.signer} ({outcome.meaning}, {outcome.level}) "
                     f"at {outcome.signed_at:%Y-%m-%d %H:%M:%S} UTC from the TSA")
        sponsor_key = load_pkcs12_key(pki.p12(plan[0][1]), pki.passphrase())
        files = write_signed_manifest(out_dir / f"{stem}.build.json", sponsor_key, tsa_url=pki.tsa_url,
                                      force=force, trust_roots=[pki.root_pem])  # carries its revocation data
    lines.append(f"Signed agreement: {signed}")
    lines.append(f"Signed at B-LT alone: {signed_b_lt}")
    lines.append(f"Signed manifest: {files.manifest} + {files.signature.name}")
    # The loopback services are stopped now: verification works from what the files carry.
    lines.append(f"Verification (qa-builder verify, offline, trusting only {pki.root_pem.name}):")
    report = verify_files([signed, signed_b_lt, files.manifest],
                          VerifySettings(trust_roots=(pki.root_pem,), jobs=2))
    for checked in report.results:
        lines += [f"  {line}" for line in describe(checked)]
    lines.append("Verdicts: " + ", ".join(f"{Path(checked.file).name} {checked.indication}"
                                          for checked in report.results))
    return DemoResult(lines=lines, exit_code=exit_code(report.results))


def demo_settings(out_dir: Path, *, force: bool = False, fmt: Format = "both") -> BuildSettings:
    """The demo's build settings: the bundled library and template, reviewed as on the example's effective date.

    The demo shows a fresh agreement, so its review checks judge it on its effective date rather than today:
    `make demo` keeps working after the example's periodic review falls due in real time.
    """
    from qa_builder.answers.load import load_answers
    from qa_builder.api import build_settings
    from qa_builder.bundled import examples_dir

    effective = load_answers(examples_dir() / EXAMPLE_FILE).answers.agreement.effective_date
    return build_settings(out_dir, fmt=fmt, force=force, today=effective)


@dataclass(frozen=True)
class DemoResult:
    """What the demo reports, and the verification's exit code (0 when everything passed)."""

    lines: list[str]
    exit_code: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
