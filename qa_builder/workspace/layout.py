"""Where agreements, their numbered versions and everything built for them live on disk.

    WORKSPACE/
      qa-builder.yaml                 settings: which library and template this workspace builds with
      clause_library/, templates/     the team's own copies (keep them under version control)
      examples/                       the bundled example answers, for reference
      agreements/<ID>/answers.yaml    one folder per agreement: its answers ...
      agreements/<ID>/v1/, v2/, ...   ... and one folder per version: DOCX, PDF, build record, model, redline,
                                      and later the signed PDF and manifest (never modified by qa-builder)
      regenerations/                  batch summaries of `regenerate`
      audit/                          the audit trail

A version folder appears in one atomic rename of a complete staging folder, so it is either whole or absent.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from qa_builder.answers.load import load_answers
from qa_builder.audit.record import WORKSPACE_MARKER, check_usable, record
from qa_builder.audit.store import AuditTrail
from qa_builder.builds.pipeline import output_stem
from qa_builder.bundled import examples_dir
from qa_builder.errors import InputError, OutputExistsError, OutputFolderError, first_line
from qa_builder.files import read_validated, remove_folders, write_bytes_atomic, write_problem
from qa_builder.library.loader import default_library_dir
from qa_builder.models.agreement import Agreement
from qa_builder.models.base import StrictModel
from qa_builder.models.build import BUILD_RECORD_LIMIT, BuildRecord
from qa_builder.models.text import file_name_problem
from qa_builder.printable import printable
from qa_builder.render.docx import default_template_path
from qa_builder.yaml_source import SourceError, read_source

SETTINGS_FILE = WORKSPACE_MARKER
WORKSPACE_FORMAT = "qa-builder-workspace/1"
AGREEMENTS = "agreements"
ANSWERS_FILE = "answers.yaml"
REGENERATIONS = "regenerations"
MODEL_SUFFIX = ".agreement.json"
PARTIAL_PREFIX = ".partial-v"
_VERSION_DIR = re.compile(r"v([1-9][0-9]*)")


class WorkspaceSettings(StrictModel):
    """The workspace's settings file (paths are relative to the workspace)."""

    format: str = WORKSPACE_FORMAT
    library: str = "clause_library"
    template: str = "templates/quality_agreement.docx"


@dataclass(frozen=True)
class Workspace:
    """An opened workspace."""

    root: Path
    settings: WorkspaceSettings

    @property
    def library_dir(self) -> Path:
        return self.root / self.settings.library

    @property
    def template(self) -> Path:
        return self.root / self.settings.template

    @property
    def trail(self) -> AuditTrail:
        """The workspace's audit trail (WORKSPACE/audit/trail.sqlite3): where its operations record their events."""
        return AuditTrail(self.root)

    @property
    def regenerations(self) -> Path:
        """WORKSPACE/regenerations. Raises InputError when it is a symbolic link (see agreement_dir)."""
        folder = self.root / REGENERATIONS
        _refuse_links([folder])
        return folder

    def agreement_dir(self, agreement_id: str) -> Path:
        """WORKSPACE/agreements/<ID>.

        Raises:
            InputError: `agreements`, the agreement's folder or an entry of it (a version folder, `negotiation`,
                the answers file) is a symbolic link. A workspace shared through git keeps links, and writing
                through one wrote answers, versions and negotiation reports outside the workspace.
        """
        folder = self.root / AGREEMENTS / agreement_id
        entries = list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
        _refuse_links([self.root / AGREEMENTS, folder, *entries])
        return folder

    def answers_path(self, agreement_id: str) -> Path:
        return self.agreement_dir(agreement_id) / ANSWERS_FILE

    def agreement_ids(self) -> list[str]:
        """Every agreement folder that has an answers file, sorted.

        An answers entry that is not a readable file (a folder, a pipe, a broken link) still counts: building or
        analysing that agreement then fails with a line that names it, instead of skipping it in silence.
        """
        folder = self.root / AGREEMENTS
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and os.path.lexists(p / ANSWERS_FILE))

    def versions(self, agreement_id: str) -> list[int]:
        """The complete versions of an agreement, ascending."""
        folder = self.agreement_dir(agreement_id)
        if not folder.is_dir():
            return []
        found = [int(m.group(1)) for p in folder.iterdir() if p.is_dir() and (m := _VERSION_DIR.fullmatch(p.name))]
        return sorted(found)

    def latest(self, agreement_id: str) -> int | None:
        versions = self.versions(agreement_id)
        return versions[-1] if versions else None

    def version_dir(self, agreement_id: str, version: int) -> Path:
        return self.agreement_dir(agreement_id) / f"v{version}"

    def record(self, agreement_id: str, version: int) -> BuildRecord:
        """The build record of a version."""
        path = self.version_dir(agreement_id, version) / f"{output_stem(agreement_id, version)}.build.json"
        _refuse_links([path])  # a record that is a link would be read from wherever it points
        return read_validated(path, BUILD_RECORD_LIMIT, BuildRecord.model_validate_json, "build record")

    def agreement(self, agreement_id: str, version: int) -> Agreement:
        """The Agreement model a version was rendered from (for impact analysis and redlines)."""
        path = self.version_dir(agreement_id, version) / f"{output_stem(agreement_id, version)}{MODEL_SUFFIX}"
        _refuse_links([path])
        return read_validated(path, BUILD_RECORD_LIMIT, Agreement.model_validate_json, "agreement model")

    def clean_partial_versions(self) -> list[Path]:
        """Remove staging folders a killed run left behind; a version folder itself is always complete."""
        removed = []
        folder = self.root / AGREEMENTS
        for partial in folder.glob(f"*/{PARTIAL_PREFIX}*") if folder.is_dir() else []:
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
        return removed


def _refuse_links(paths: list[Path]) -> None:
    for path in paths:
        if path.is_symlink():
            raise InputError(f"{path}: is a symbolic link; a workspace keeps its agreements and regenerations as "
                             "plain files and folders inside it, so qa-builder never reads or writes through a "
                             "link: replace the link with what it points to")


def open_workspace(root: Path) -> Workspace:
    """Open the workspace at `root`.

    Raises:
        InputError: `root` is not a workspace or its settings are unreadable.
    """
    path = root / SETTINGS_FILE
    if not path.is_file():
        raise InputError(f"{root}: is not a qa-builder workspace (no {SETTINGS_FILE}); create one with "
                         f"`qa-builder init {root}`")
    source = None
    try:
        source = read_source(path)
        settings = WorkspaceSettings.model_validate(source.data or {})
    except SourceError as exc:
        where = f" line {exc.line}" if exc.line else ""
        raise InputError(f"{path}{where}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "the file"
        line = source.line_of(tuple(first["loc"])) if source is not None else 0
        where = f" line {line}" if line else ""  # attack round 9: the line was not named
        raise InputError(f"{path}{where}: is not a valid workspace settings file: {field}: {first['msg']}") from exc
    if settings.format != WORKSPACE_FORMAT:
        raise InputError(f"{path}: format '{settings.format}' is not {WORKSPACE_FORMAT}")
    for name, value in (("library", settings.library), ("template", settings.template)):
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise InputError(f"{path}: {name} must be a path inside the workspace (got '{value}')")
        if not (root / value).resolve().is_relative_to(root.resolve()):  # a shared workspace's link to a private file
            raise InputError(f"{path}: {name} '{value}' leads out of the workspace through a symbolic link; a "
                             "workspace builds with its own copy: replace the link with what it points to")
    return Workspace(root=root, settings=settings)


def init_workspace(root: Path) -> Workspace:
    """Create a workspace with copies of the default library, template and examples, and a settings file.

    Raises:
        OutputExistsError: `root` exists and is not empty.
        InputError: the folder's path holds a character that would not print as itself (every message and
            audit event of the workspace names it).
        OutputFolderError: the workspace cannot be made there (a full disk, a read-only or not-writable folder);
            nothing is left behind.
    """
    root = root.absolute()
    name_problem = file_name_problem(str(root))
    if name_problem:
        reason = name_problem.replace("rename the file", "choose another name")
        raise InputError(f"{printable(str(root))}: the workspace folder's path {reason}")
    if root.exists() and any(root.iterdir()):
        raise OutputExistsError(f"{root} already exists and is not empty; choose a new folder")
    staging = root.parent / f".{root.name}.init-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        settings = WorkspaceSettings()
        shutil.copytree(default_library_dir(), staging / settings.library)
        (staging / settings.template).parent.mkdir(parents=True)
        shutil.copy2(default_template_path(), staging / settings.template)
        shutil.copytree(examples_dir(), staging / "examples")
        (staging / AGREEMENTS).mkdir()
        (staging / REGENERATIONS).mkdir()
        text = ("# qa-builder workspace settings. Paths are relative to this folder.\n"
                + yaml.safe_dump(settings.model_dump(), sort_keys=False))
        write_bytes_atomic(staging / SETTINGS_FILE, text.encode("utf-8"))
        if root.exists():  # an empty folder, perhaps the current one: fill it, the settings file last
            for entry in sorted(staging.iterdir(), key=lambda p: p.name == SETTINGS_FILE):
                os.rename(entry, root / entry.name)
            staging.rmdir()
        else:
            os.rename(staging, root)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, shutil.Error) or (isinstance(exc, OSError) and write_problem(root, exc)):
            # copytree gathers every file it could not copy into one shutil.Error; the first says why
            problem = write_problem(root, _first_copy_error(exc)) if isinstance(exc, shutil.Error) else None
            raise OutputFolderError(problem or write_problem(root, exc)
                                    or f"{root}: the workspace cannot be made there ({first_line(str(exc))[:200]})"
                                    ) from exc
        raise
    workspace = open_workspace(root)
    record(workspace.trail, "init", files=[workspace.template, workspace.library_dir / "library.yaml"],
           details={"library": settings.library, "template": settings.template})
    return workspace


def _first_copy_error(exc: shutil.Error) -> OSError:
    """The OSError of the first file shutil.copytree could not copy (it keeps only their texts)."""
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    text = str(errors[0][2]) if errors and len(errors[0]) == 3 else ""
    found = re.match(r"\[Errno (\d+)\]", text)
    return OSError(int(found[1]), text) if found else OSError(text)


def add_agreement(workspace: Workspace, answers: Path) -> str:
    """Copy a validated answers file into the workspace as agreements/<ID>/answers.yaml; return the ID.

    Raises:
        AnswersError: the file is not valid answers.
        OutputExistsError: the workspace already has an agreement with that ID.
        AuditError: the audit trail cannot record the addition; nothing is added.
        OSError: the file cannot be written (a full disk, a read-only folder, ...); nothing is added.
    """
    agreement_id = load_answers(answers).answers.agreement.id
    target = workspace.answers_path(agreement_id)
    if target.exists():
        raise OutputExistsError(f"{workspace.root}: agreement {agreement_id} already exists ({target}); edit that "
                                "file instead")
    check_usable(workspace.trail)  # never an agreement without its "add" event
    folder_made = not target.parent.exists()
    write_bytes_atomic(target, answers.read_bytes())
    try:
        record(workspace.trail, "add", agreement_id=agreement_id, files=[target],
               details={"added_from": answers.name})
    except BaseException:  # an agreement the trail does not know of is not added: nothing is left
        target.unlink(missing_ok=True)
        if folder_made:
            remove_folders([target.parent])
        raise
    return agreement_id
