"""qa-builder: Quality Agreements from answers and a clause library, as DOCX and PDF/A.

The public API. Everything the command line does is callable from here, and the command line and the demo
call only these names::

    import qa_builder as qa

    settings = qa.build_settings(Path("out"))
    result = qa.build(Path("answers.yaml"), settings)

Names are imported on first use, so ``import qa_builder`` stays cheap (no LibreOffice pool, no pyHanko).
Every failure a user can cause is a `QABuilderError` whose message names the culprit.

Side effects are explicit: only what you pass a workspace or an `AuditTrail` to (``trail=workspace.trail``,
or ``trail=qa.trail_of(path)`` for the workspace holding a file) records in a Part 11 audit trail; signing,
manifests and verification of a file write no audit event otherwise.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> home module; the stage modules keep their own names, `api` composes stages.
_HOMES: dict[str, str] = {
    # answers, library, review, assembly
    "AnswersFile": "qa_builder.answers.load",
    "load_answers": "qa_builder.answers.load",
    "ClauseLibrary": "qa_builder.models.library",
    "load_library": "qa_builder.library.loader",
    "Finding": "qa_builder.models.findings",
    "check_answers": "qa_builder.api",
    "Agreement": "qa_builder.models.agreement",
    "assemble_agreement": "qa_builder.api",
    "AgreementReview": "qa_builder.api",
    "review_agreement": "qa_builder.api",
    # build
    "BuildSettings": "qa_builder.builds.pipeline",
    "BuildResult": "qa_builder.builds.pipeline",
    "BatchItem": "qa_builder.builds.batch",
    "build_settings": "qa_builder.api",
    "build": "qa_builder.api",
    "build_many": "qa_builder.api",
    "PdfConverter": "qa_builder.render.pdf",
    # signing and manifests
    "SigningKey": "qa_builder.signing.keys",
    "load_pkcs12_key": "qa_builder.signing.keys",
    "load_pkcs12_data": "qa_builder.signing.keys",
    "load_pkcs11_key": "qa_builder.signing.keys",
    "close_pkcs11_sessions": "qa_builder.signing.keys",
    "SignatureRequest": "qa_builder.signing.pades",
    "SignatureOutcome": "qa_builder.signing.pades",
    "list_signature_fields": "qa_builder.signing.pades",
    "sign_pdf": "qa_builder.audited",
    "ManifestFiles": "qa_builder.signing.manifest",
    "build_manifest": "qa_builder.signing.manifest",
    "sign_file": "qa_builder.audited",
    "write_signed_manifest": "qa_builder.audited",
    # verification
    "VerifySettings": "qa_builder.verify.policy",
    "VerifyReport": "qa_builder.verify.report",
    "FileReport": "qa_builder.verify.report",
    "verify_files": "qa_builder.api",
    "exit_code": "qa_builder.verify.report",
    "describe": "qa_builder.verify.text",
    # workspaces
    "Workspace": "qa_builder.workspace.layout",
    "init_workspace": "qa_builder.workspace.layout",
    "open_workspace": "qa_builder.workspace.layout",
    "add_agreement": "qa_builder.workspace.layout",
    "build_workspace": "qa_builder.api",
    "Impact": "qa_builder.regenerate",
    "impact": "qa_builder.regenerate",
    "workspace_impact": "qa_builder.api",
    "RegenerationReport": "qa_builder.regenerate",
    "regenerate_workspace": "qa_builder.api",
    # audit trail
    "AuditTrail": "qa_builder.audit.store",
    "trail_of": "qa_builder.audit.record",
    "TrailVerdict": "qa_builder.audit.verify",
    "verify_trail": "qa_builder.audit.verify",
    "seal_trail": "qa_builder.audit.seal",
    "export_csv": "qa_builder.audit.export",
    "export_pdf": "qa_builder.audit.export",
    # TEST ONLY PKI and its loopback TSA / OCSP / CRL services
    "TestPki": "qa_builder.testing.pki",
    "create_test_pki": "qa_builder.testing.pki",
    "TestPkiServer": "qa_builder.testing.services",
    # bundled data, errors
    "examples_dir": "qa_builder.bundled",
    "DemoResult": "qa_builder.demo",
    "run_demo": "qa_builder.demo",
    "QABuilderError": "qa_builder.errors",
    "InputError": "qa_builder.errors",
    "Hint": "qa_builder.errors",
    "Remedy": "qa_builder.errors",
    "Problem": "qa_builder.errors",
}

__all__ = [  # the public API; each name's home module is in _HOMES
    "Agreement",
    "AgreementReview",
    "AnswersFile",
    "AuditTrail",
    "BatchItem",
    "BuildResult",
    "BuildSettings",
    "ClauseLibrary",
    "DemoResult",
    "FileReport",
    "Finding",
    "Hint",
    "Impact",
    "InputError",
    "ManifestFiles",
    "PdfConverter",
    "Problem",
    "QABuilderError",
    "RegenerationReport",
    "Remedy",
    "SignatureOutcome",
    "SignatureRequest",
    "SigningKey",
    "TestPki",
    "TestPkiServer",
    "TrailVerdict",
    "VerifyReport",
    "VerifySettings",
    "Workspace",
    "__version__",
    "add_agreement",
    "assemble_agreement",
    "build",
    "build_manifest",
    "build_many",
    "build_settings",
    "build_workspace",
    "check_answers",
    "close_pkcs11_sessions",
    "create_test_pki",
    "describe",
    "examples_dir",
    "exit_code",
    "export_csv",
    "export_pdf",
    "impact",
    "init_workspace",
    "list_signature_fields",
    "load_answers",
    "load_library",
    "load_pkcs11_key",
    "load_pkcs12_data",
    "load_pkcs12_key",
    "open_workspace",
    "regenerate_workspace",
    "review_agreement",
    "run_demo",
    "seal_trail",
    "sign_file",
    "sign_pdf",
    "trail_of",
    "verify_files",
    "verify_trail",
    "workspace_impact",
    "write_signed_manifest",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its home module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qa_builder' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from qa_builder.answers.load import AnswersFile, load_answers
    from qa_builder.api import (
        AgreementReview,
        assemble_agreement,
        build,
        build_many,
        build_settings,
        build_workspace,
        check_answers,
        regenerate_workspace,
        review_agreement,
        verify_files,
        workspace_impact,
    )
    from qa_builder.audit.export import export_csv, export_pdf
    from qa_builder.audit.record import trail_of
    from qa_builder.audit.seal import seal_trail
    from qa_builder.audit.store import AuditTrail
    from qa_builder.audit.verify import TrailVerdict, verify_trail
    from qa_builder.audited import sign_file, sign_pdf, write_signed_manifest
    from qa_builder.builds.batch import BatchItem
    from qa_builder.builds.pipeline import BuildResult, BuildSettings
    from qa_builder.bundled import examples_dir
    from qa_builder.demo import DemoResult, run_demo
    from qa_builder.errors import Hint, InputError, Problem, QABuilderError, Remedy
    from qa_builder.library.loader import load_library
    from qa_builder.models.agreement import Agreement
    from qa_builder.models.findings import Finding
    from qa_builder.models.library import ClauseLibrary
    from qa_builder.regenerate import Impact, RegenerationReport, impact
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.signing.keys import (
        SigningKey,
        close_pkcs11_sessions,
        load_pkcs11_key,
        load_pkcs12_data,
        load_pkcs12_key,
    )
    from qa_builder.signing.manifest import ManifestFiles, build_manifest
    from qa_builder.signing.pades import SignatureOutcome, SignatureRequest, list_signature_fields
    from qa_builder.testing.pki import TestPki, create_test_pki
    from qa_builder.testing.services import TestPkiServer
    from qa_builder.verify.policy import VerifySettings
    from qa_builder.verify.report import FileReport, VerifyReport, exit_code
    from qa_builder.verify.text import describe
