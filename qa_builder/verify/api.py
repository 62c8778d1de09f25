"""The verifier's public entry points."""

from __future__ import annotations

from pathlib import Path

from qa_builder import __version__
from qa_builder.verify.policy import VerifySettings, load_policy
from qa_builder.verify.report import FileReport, VerifyReport, exit_code
from qa_builder.verify.runner import OnResult, verify_files
from qa_builder.verify.text import describe

__all__ = ["VerifySettings", "describe", "exit_code", "verify"]


def verify(paths: list[Path], settings: VerifySettings, *, on_result: OnResult | None = None) -> VerifyReport:
    """Verify signed PDFs and manifests; each file bounded in time and memory, `settings.jobs` at a time.

    Writes nothing: to record the verifications in a workspace's audit trail, the caller passes the results to
    `qa_builder.audited.record_verifications`.

    Raises:
        InputError: a trust root cannot be loaded (a usage problem, before any file is looked at).
    """
    policy = load_policy(settings)
    results: list[FileReport] = verify_files(paths, policy, settings, on_result)
    return VerifyReport(tool_version=__version__, results=results)

