"""Which files of a workspace are its records, and the check every `-o FILE` output goes through.

A command that writes a report where the user says (`audit export -o`, `negotiate log -o`, `negotiate proposal
-o`) replaced any file named there, silently: a signed PDF in a version folder, an agreement's answers, even the
audit trail database, after which no command could use the trail. Records are never written over, not even with
--force; any other existing file is replaced only with --force, as `build` and `sign` do.
"""

from __future__ import annotations

import os
from pathlib import Path

from qa_builder.errors import Hint, OutputExistsError, Remedy

_REPORTS = (".docx", ".pdf")
"""What a user may write (and replace, with --force) in an agreement's negotiation folder: logs and proposals."""


def record_name(workspace: Path, path: Path) -> str | None:
    """The workspace-relative name of `path` when it is (or would be) one of the workspace's records, else None.

    Records: the settings file (qa-builder.yaml), everything under agreements/ (answers, version folders with
    their signed PDFs, negotiation reports and decisions) except DOCX and PDF reports in an agreement's
    negotiation folder, and everything under audit/ (the trail database and its journal files, the seals)
    except audit/exports/. Both paths are resolved first, so a symbolic link to a record is a record too.

    Args:
        workspace: The workspace folder.
        path: A file a command would write.
    """
    root = Path(os.path.realpath(workspace))
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(root) or target == root:
        return None
    parts = target.relative_to(root).parts
    relative = "/".join(parts)
    if parts == ("qa-builder.yaml",):
        return relative
    if parts[0] == "audit":
        return None if len(parts) > 2 and parts[1] == "exports" else relative
    if parts[0] == "agreements":
        report = len(parts) == 4 and parts[2] == "negotiation" and target.suffix.lower() in _REPORTS
        return None if report else relative
    return None


def check_output(out: Path, workspace: Path, *, force: bool) -> None:
    """Refuse an output file the user named (`-o`) that would write over a record or, without `force`, a file.

    Args:
        out: The file to write.
        workspace: The workspace the command works on.
        force: Whether an existing file that is not a record may be replaced (`--force`).

    Raises:
        OutputExistsError: `out` is one of the workspace's records (always), or it exists and `force` is False;
            one line naming it.
    """
    name = record_name(workspace, out)
    if name is not None:
        raise OutputExistsError(f"{out}: is one of the workspace's own records ({name}); qa-builder never writes "
                                "over or into them, even with --force: choose another -o")
    if os.path.lexists(out) and not force:
        raise OutputExistsError(f"{out} already exists", hint=Hint(Remedy.OTHER_OUTPUT_OR_REPLACE))
