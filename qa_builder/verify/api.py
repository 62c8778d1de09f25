"""The verifier's public entry points."""

from __future__ import annotations

from pathlib import Path

from qa_builder import __version__
from qa_builder.audit.events import AuditFile
from qa_builder.audit.record import find_workspace, record
from qa_builder.verify.policy import VerifySettings, load_policy
from qa_builder.verify.report import FileReport, VerifyReport, exit_code
from qa_builder.verify.runner import OnResult, verify_files
from qa_builder.verify.text import describe

__all__ = ["VerifySettings", "describe", "exit_code", "verify"]


def verify(paths: list[Path], settings: VerifySettings, *, on_result: OnResult | None = None) -> VerifyReport:
    """Verify signed PDFs and manifests; each file bounded in time and memory, `settings.jobs` at a time.

    Raises:
        InputError: a trust root cannot be loaded (a usage problem, before any file is looked at).
    """
    policy = load_policy(settings)
    results: list[FileReport] = verify_files(paths, policy, settings, on_result)
    for path, result in zip(paths, results, strict=True):
        if result.sha256 is None:
            continue  # never read (missing, a directory, a symlink loop): nothing to record in a trail
        verified = [AuditFile(name=_trail_name(path), sha256=result.sha256)] if result.sha256 else []
        record(path, "verify", files=verified,
               details={"indication": result.indication, "sub_indication": result.sub_indication,
                        "error": result.error, "signatures": len(result.signatures),
                        "trust_roots": [p.name for p in settings.trust_roots], "online": settings.online})
    return VerifyReport(tool_version=__version__, results=results)


def _trail_name(path: Path) -> str:
    """The file's name as the audit trail shows it: relative to its workspace."""
    root = find_workspace(path)
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if root is not None else path.name
