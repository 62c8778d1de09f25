"""The local web app: dashboard, interview, build, verify, audit trail; a thin layer over the library API.

Every page reads and writes the same files as the command line: an agreement is `agreements/<ID>/answers.yaml`
in the workspace, built versions are its `vN/` folders, and the audit trail is the workspace's.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import qa_builder as qa
from qa_builder import clock
from qa_builder.audit.events import Action, Outcome
from qa_builder.audit.record import record
from qa_builder.errors import InputError, QABuilderError
from qa_builder.files import folder_lock
from qa_builder.web.conditions import explain
from qa_builder.web.interview import Replay, read_draft, replay, save_draft
from qa_builder.web.security import CSRF_FIELD, MAX_FORM_BYTES, Gate, GateMiddleware, Refused, checked_form

if TYPE_CHECKING:
    from qa_builder.signing.pades import FieldState

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
_DOWNLOADABLE = {".docx", ".pdf", ".json", ".html", ".csv"}
_MAX_KEY_BYTES = 1024 * 1024
_MAX_PIN_CHARS = 256
_MEANINGS = ("approval", "review", "responsibility", "authorship")
_MAX_VERIFY_FILES = 20
_UPLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
_VERIFIABLE = {".pdf", ".json", ".p7s", ".docx"}
AUDIT_PAGE_EVENTS = 200
"""Events on one page of the audit trail view (a trail of years holds tens of thousands)."""


def _latest_signed(source: Path, signed: Path) -> Path:
    """What a signature goes into once it holds the signing lock: the signed copy if another signature made it
    meanwhile (the page chose `source` before waiting), else `source`."""
    return signed if signed.is_file() else source


@dataclass
class BuildJob:
    """The build of one agreement running in the background."""

    agreement_id: str
    started: float
    finished: float | None = None
    error: str | None = None
    built: str | None = None


@dataclass
class RegenerationJob:
    """A `regenerate` run over the workspace (or some of its agreements) in the background, with its progress."""

    ids: list[str]
    total: int
    started: float
    done: list[tuple[str, str | None]] = field(default_factory=list)  # (agreement id, error or None)
    finished: float | None = None
    error: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class Checked:
    """An agreement's review as last computed, and the file stamps it was computed from."""

    stamp: tuple[Any, ...]
    review: qa.AgreementReview | None
    problem: str | None
    agreement: qa.Agreement | None = None  # assembled alone, for the preview, when there is no review


class WebApp:
    """The state of one `qa-builder serve` run: its workspace, its gate and the running builds."""

    def __init__(self, workspace: Path, gate: Gate, *, pkcs11_module: Path | None = None, tsa_url: str | None = None,
                 trust_roots: tuple[Path, ...] = ()) -> None:
        self.workspace = qa.open_workspace(workspace.absolute())
        self.gate = gate
        self.pkcs11_module = pkcs11_module
        self.tsa_url = tsa_url
        self.trust_roots = trust_roots
        self.env = Environment(loader=PackageLoader("qa_builder.web", "templates"), autoescape=True)
        self.env.filters["file_kind"] = file_kind
        from qa_builder.render import typeset  # the documents' own words for the annexes of the preview

        self.env.globals["annex_legends"] = {"raci": typeset.RACI_LEGEND, "timelines": typeset.TIMELINES_LEGEND,
                                             "traceability": typeset.TRACEABILITY_LEGEND,
                                             "sources": typeset.SOURCES_LEGEND}
        self.jobs: dict[str, BuildJob] = {}
        self.regeneration: RegenerationJob | None = None
        self._build_lock = threading.Lock()
        # One signature at a time: a PKCS#11 login is process-wide, and two signatures of one agreement sent at once
        # each signed the same source and the later replaced the earlier's file (a signature lost; session 6 attack).
        # The version folder's lock (flock) keeps a second server on the same workspace out too.
        self._sign_lock = threading.Lock()
        self._library: tuple[tuple[tuple[str, int, int], ...], qa.ClauseLibrary] | None = None
        self._checked: dict[str, Checked] = {}
        self._assembled: dict[str, Checked] = {}
        self._impact: tuple[tuple[Any, ...], dict[str, qa.Impact]] | None = None
        self._fields: dict[Path, tuple[Any, list[FieldState], str | None]] = {}

    # -- helpers ------------------------------------------------------------------------------------

    def page(self, template_name: str, /, *, http_status: int = 200, **context: Any) -> HTMLResponse:
        template = self.env.get_template(template_name)
        html = template.render(csrf=self.gate.csrf, csrf_field=CSRF_FIELD, workspace=self.workspace.root,
                               **context)
        return HTMLResponse(html, status_code=http_status)

    def agreement_id(self, request: Request) -> str:
        agreement_id = str(request.path_params["agreement_id"])
        if not _ID.fullmatch(agreement_id) or not self.workspace.answers_path(agreement_id).is_file():
            raise HTTPException(404, "No such agreement in this workspace.")
        return agreement_id

    def draft(self, agreement_id: str) -> tuple[dict[str, Any], str | None]:
        """The agreement's saved answers as plain data, or, when its answers file cannot be read (too large, not
        YAML), a fresh draft holding only its id and the sentence saying why: the interview still opens, so the
        answers can be given again (the unreadable file is kept when a page is saved, see `save`)."""
        try:
            return read_draft(self.workspace.answers_path(agreement_id)), None
        except QABuilderError as exc:
            return {"agreement": {"id": agreement_id}}, str(exc).replace(f"{self.workspace.root}/", "")

    def save(self, agreement_id: str, data: dict[str, Any]) -> None:
        """Save a draft over the agreement's answers file; an answers file that cannot be read is first moved aside,
        as `answers.unreadable-<UTC time>.yaml` beside it, so nothing a person wrote is lost."""
        path = self.workspace.answers_path(agreement_id)
        if self.draft(agreement_id)[1] is not None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            path.rename(path.with_name(f"answers.unreadable-{stamp}.yaml"))
        save_draft(path, data)

    def status(self, agreement_id: str, version: int | None = None) -> str:
        """draft (nothing built), built, partly signed, signed; an earlier version than the latest is superseded;
        unreadable when the signed PDF in the version's folder cannot be read (`unreadable` says why)."""
        latest = self.workspace.latest(agreement_id)
        if latest is None:
            return "draft"
        version = latest if version is None else version
        if version != latest:
            return "superseded"
        signed = self.workspace.version_dir(agreement_id, version) / f"{agreement_id}_v{version}.signed.pdf"
        if not signed.is_file():
            return "built"
        fields, problem = self.signature_fields(signed)
        if problem is not None:
            return "unreadable"
        return "signed" if all(f.signed for f in fields) else "partly signed"

    def unreadable(self, agreement_id: str, version: int) -> str | None:
        """Why the signed PDF of a version cannot be read (workspace-relative), or None."""
        signed = self.workspace.version_dir(agreement_id, version) / f"{agreement_id}_v{version}.signed.pdf"
        return self.signature_fields(signed)[1] if signed.is_file() else None

    def signature_fields(self, pdf: Path) -> tuple[list[FieldState], str | None]:
        """The signature fields of a PDF in a version folder, or why it cannot be read (one sentence, the path
        workspace-relative). Remembered by path, time, size and inode: a page load does not parse the PDF again
        (a 10 MB PDF took 8 s a load), and one unreadable PDF is a line in its row, not a failed page."""
        stamp = _file_stamp(pdf)
        cached = self._fields.get(pdf)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        fields: list[FieldState] = []
        problem = None
        try:
            fields = qa.list_signature_fields(pdf)
        except QABuilderError as exc:
            problem = str(exc).replace(f"{self.workspace.root}/", "")
        except Exception as exc:  # any PDF a person drops in the folder: say so in its row, keep the page
            problem = (f"{pdf.relative_to(self.workspace.root)}: is not a readable PDF "
                       f"({type(exc).__name__}: {str(exc)[:200]})")
        self._fields[pdf] = (stamp, fields, problem)
        return fields, problem

    def files(self, agreement_id: str, version: int | None) -> list[str]:
        """The downloadable files of a version (DOCX, PDF, redline, build record...), workspace-relative."""
        if version is None:
            return []
        folder = self.workspace.version_dir(agreement_id, version)
        return sorted(p.relative_to(self.workspace.root).as_posix() for p in folder.iterdir()
                      if p.is_file() and p.suffix in _DOWNLOADABLE)

    def library(self) -> qa.ClauseLibrary:
        """The workspace's clause library, loaded again only when one of its files changed (size or time)."""
        stamp = self._library_stamp()
        if self._library is None or self._library[0] != stamp:
            self._library = (stamp, qa.load_library(self.workspace.library_dir))
        return self._library[1]

    def _stamp(self, agreement_id: str) -> tuple[Any, ...]:
        """What an agreement's review depends on: its answers file, the library's files and today's date
        (date-dependent checks, such as an overdue periodic review, judge by today)."""
        library_stamp = self._library[0] if self._library else None
        return _file_stamp(self.workspace.answers_path(agreement_id)), library_stamp, clock.today()

    def checked(self, agreement_id: str) -> Checked:
        """The agreement's review (findings, gaps, clause selection, assembled model), computed again only when
        its answers file or the library changed: opening a page does not re-run the checks."""
        library = self.library()
        stamp = self._stamp(agreement_id)
        cached = self._checked.get(agreement_id)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            checked = Checked(stamp, qa.review_agreement(self.workspace.answers_path(agreement_id), library=library),
                              None)
        except QABuilderError as exc:
            checked = Checked(stamp, None, str(exc))
        self._checked[agreement_id] = checked
        return checked

    def assembled(self, agreement_id: str) -> tuple[qa.Agreement | None, str | None]:
        """The Agreement model the preview shows: the review's when it is up to date, else assembled alone (the
        preview after each saved answer then does not wait for the review checks)."""
        library = self.library()
        stamp = self._stamp(agreement_id)
        for cache in (self._checked, self._assembled):
            cached = cache.get(agreement_id)
            if cached is not None and cached.stamp == stamp:
                return (cached.review.agreement if cached.review else cached.agreement), cached.problem
        try:
            agreement = qa.assemble_agreement(self.workspace.answers_path(agreement_id), library=library,
                                              allow_gaps=True)
            found = Checked(stamp, None, None, agreement=agreement)
        except QABuilderError as exc:
            found = Checked(stamp, None, str(exc))
        self._assembled[agreement_id] = found
        return found.agreement, found.problem

    @property
    def levels(self) -> list[str]:
        """The PAdES levels this server can sign at: B-T needs a TSA, B-LT and B-LTA also trust roots."""
        return ["B-B", *(["B-T"] if self.tsa_url else []), *(["B-LT", "B-LTA"] if self.tsa_url and self.trust_roots
                                                                else [])]

    def verify_settings(self) -> qa.VerifySettings:
        """What the sign and verify pages verify with: the trust roots `serve` was given (none: at best
        "intact, but not trusted")."""
        return qa.VerifySettings(trust_roots=self.trust_roots)

    def _library_stamp(self) -> tuple[tuple[str, int, int], ...]:
        folder = self.workspace.library_dir
        return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")
                            if p.is_file()))

    def findings(self, agreement_id: str) -> tuple[list[qa.Finding], str | None]:
        """The review findings of a complete draft, or the sentence saying why it cannot be reviewed yet."""
        checked = self.checked(agreement_id)
        return (checked.review.findings if checked.review else []), checked.problem

    def impacts(self) -> dict[str, qa.Impact]:
        """What `qa-builder impact` says for every built agreement (not recorded), again only after a change."""
        stamp = (self._library_stamp(), _file_stamp(self.workspace.template),
                 *((i, self._answers_stamp(i), tuple(self._versions(i))) for i in self.workspace.agreement_ids()))
        if self._impact is None or self._impact[0] != stamp:
            try:
                found = {i.agreement_id: i for i in qa.workspace_impact(self.workspace)}
            except QABuilderError:
                found = {}
            self._impact = (stamp, found)
        return self._impact[1]

    def _versions(self, agreement_id: str) -> list[int]:
        """The agreement's versions, or none when its folder cannot be used (a link in it); its own pages say why,
        and the dashboard still lists every other agreement (attack round 9: one link refused the whole page)."""
        try:
            versions: list[int] = self.workspace.versions(agreement_id)
        except InputError:
            return []
        return versions

    def _answers_stamp(self, agreement_id: str) -> object:
        try:
            return _file_stamp(self.workspace.answers_path(agreement_id))
        except InputError as exc:
            return str(exc)

    # -- pages --------------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        rows = []
        impacts = await run_in_threadpool(self.impacts)
        for agreement_id in self.workspace.agreement_ids():
            findings, problem = self.findings(agreement_id)
            versions = [{"number": v, "status": self.status(agreement_id, v), "files": self.files(agreement_id, v),
                         "unreadable": self.unreadable(agreement_id, v)}
                        for v in reversed(self._versions(agreement_id))]
            rows.append({"id": agreement_id, "versions": versions, "impact": impacts.get(agreement_id),
                         "status": self.status(agreement_id), "errors": sum(f.severity == "error" for f in findings),
                         "warnings": sum(f.severity == "warning" for f in findings), "problem": problem})
        affected = [r["id"] for r in rows if r["impact"] is not None and r["impact"].affected]
        return self.page("dashboard.html", rows=rows, affected=affected, starts=self.starts(),
                         regeneration=self.regeneration, now=time.monotonic())

    def starts(self) -> dict[str, list[str]]:
        """What a new agreement can start from: the bundled examples and the workspace's agreements."""
        folder = self.workspace.root / "examples"
        examples = [] if folder.is_symlink() else [p.stem for p in folder.glob("*.yaml") if not p.is_symlink()]
        return {"examples": sorted(examples), "agreements": self.workspace.agreement_ids()}

    async def new_agreement(self, request: Request) -> Response:
        start = request.query_params.get("from", "")
        draft = self._start_from(start)
        if request.method == "POST":
            form = await checked_form(request, self.gate)
            submitted = _answers_in(form)
            start = str(form.get("from", ""))
            draft = self._start_from(start)
            result = replay(draft, submitted)
            first = result.sections[0]
            agreement_id = result.data["agreement"]["id"]
            if first.complete and isinstance(agreement_id, str):
                if self.workspace.answers_path(agreement_id).exists():
                    first.questions[0].error = f"the workspace already has an agreement {agreement_id}"
                else:
                    answers = self.workspace.answers_path(agreement_id)
                    save_draft(answers, result.data)
                    # what `qa-builder add` records: a new agreement is an action on the workspace's records
                    record(self.workspace.trail, "add", agreement_id=agreement_id, files=[answers],
                           details={"added_from": f"web interview (started from {start or 'nothing'})"})
                    return RedirectResponse(f"/agreements/{agreement_id}/interview/2", status_code=303)
            return self.interview_page(None, result, 0, start=start, status=422)
        return self.interview_page(None, replay(draft), 0, start=start)

    def _start_from(self, start: str) -> dict[str, Any]:
        """A draft started from a bundled example or another agreement (its id cleared), or empty."""
        if not start:
            return {}
        if not _ID.fullmatch(start):
            raise HTTPException(404, "No such example or agreement.")
        example = self.workspace.root / "examples" / f"{start}.yaml"
        for link in (example.parent, example):  # a shared workspace's link would show a file from outside it
            if link.is_symlink():
                raise HTTPException(422, f"{link.relative_to(self.workspace.root)}: is a symbolic link; a workspace "
                                         "keeps its examples as plain files inside it, so it is never read through: "
                                         "replace the link with what it points to")
        path = example if example.is_file() else self.workspace.answers_path(start)
        if not path.is_file():
            raise HTTPException(404, "No such example or agreement.")
        draft = read_draft(path)
        if isinstance(draft.get("agreement"), dict):
            draft["agreement"] = {**draft["agreement"], "id": None, "version": 1}
        return draft

    def interview_page(self, agreement_id: str | None, result: Replay, index: int, *, start: str = "",
                       status: int = 200, unreadable: str | None = None, page_error: str | None = None) -> HTMLResponse:
        findings: dict[str, list[qa.Finding]] = {}
        problem = None
        if agreement_id is not None and result.complete and unreadable is None:
            found, problem = self.findings(agreement_id)
            keys = [q.key for q in result.sections[index].questions]
            for finding in found:
                key = _question_for(finding.field, keys)
                if key is not None:
                    findings.setdefault(key, []).append(finding)
        check_url = f"/agreements/{agreement_id}/interview/{index + 1}/check" if agreement_id else "/new/check"
        answered = sum(1 for s in result.sections for q in s.questions if not (q.error or q.unanswered))
        asked = sum(len(s.questions) for s in result.sections)
        return self.page("interview.html", http_status=status, agreement_id=agreement_id, sections=result.sections,
                         index=index, section=result.sections[index], findings=findings, problem=problem,
                         complete=result.complete, start=start, check_url=check_url, oob=False, saved=None,
                         answered=answered, asked=asked, starts=self.starts() if agreement_id is None else None,
                         unreadable=unreadable, page_error=page_error)

    async def check(self, request: Request) -> Response:
        """Validate a page's answers as they are typed (htmx, on change). On an existing agreement a page whose
        answers are all valid is saved at once (atomically): reloading the page loses nothing."""
        form = await checked_form(request, self.gate)
        agreement_id = None
        if "agreement_id" in request.path_params:
            agreement_id = self.agreement_id(request)
            draft, _ = self.draft(agreement_id)
            index = int(request.path_params["number"]) - 1
        else:
            draft, index = self._start_from(str(form.get("from", ""))), 0
        result = replay(draft, _answers_in(form))
        if not 0 <= index < len(result.sections):
            raise HTTPException(404, "No such page of the interview.")
        section = result.sections[index]
        saved = None
        if agreement_id is not None and section.complete and result.data["agreement"]["id"] == agreement_id:
            self.save(agreement_id, result.data)
            saved = dt.datetime.now().strftime("%H:%M:%S")
        response = self.page("interview_check.html", section=section, oob=True, saved=saved)
        if saved is not None:
            response.headers["HX-Trigger"] = "draft-saved"
        return response

    async def interview(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        number = int(request.path_params["number"])
        submitted: dict[str, str] = {}
        if request.method == "POST":
            submitted = _answers_in(await checked_form(request, self.gate))
        draft, unreadable = self.draft(agreement_id)
        result = replay(draft, submitted)
        if not 1 <= number <= len(result.sections):
            raise HTTPException(404, "No such page of the interview.")
        index = number - 1
        if request.method == "POST":
            section = result.sections[index]
            if result.data["agreement"]["id"] != agreement_id:
                # on the question that asks for it, or, sent with another page's answers, on the page itself
                asking = next((q for q in section.questions if q.key == "agreement.id"), None)
                message = (f"the id of an agreement cannot be changed here (it is {agreement_id}); start a new "
                           "agreement from this one instead")
                if asking is not None:
                    asking.error = message
                else:
                    return self.interview_page(agreement_id, result, index, status=422, unreadable=unreadable,
                                               page_error=f"Nothing was saved: {message}.")
            if any(q.error for q in section.questions):
                return self.interview_page(agreement_id, result, index, status=422, unreadable=unreadable)
            self.save(agreement_id, result.data)
            following = number + 1 if number < len(result.sections) else None
            target = f"/agreements/{agreement_id}/interview/{following}" if following else \
                f"/agreements/{agreement_id}"
            return RedirectResponse(target, status_code=303)
        return self.interview_page(agreement_id, result, index, unreadable=unreadable)

    async def agreement(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        draft, unreadable = self.draft(agreement_id)
        result = replay(draft)
        findings, problem = self.findings(agreement_id)
        pages = {f.id + f.field: _page_of(result, f.field) for f in findings}
        versions = []
        for version in reversed(self.workspace.versions(agreement_id)):
            versions.append({"number": version, "status": self.status(agreement_id, version),
                             "files": self.files(agreement_id, version),
                             "unreadable": self.unreadable(agreement_id, version)})
        return self.page("agreement.html", agreement_id=agreement_id, status=self.status(agreement_id),
                         unreadable=unreadable,
                         findings=findings, pages=pages, problem=problem, complete=result.complete,
                         unanswered=[(n + 1, q) for n, s in enumerate(result.sections) for q in s.questions
                                     if q.error or q.unanswered],
                         versions=versions, job=self.jobs.get(agreement_id))

    async def build(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        await checked_form(request, self.gate)
        job = self.jobs.get(agreement_id)
        if job is None or job.finished is not None:
            job = BuildJob(agreement_id, started=time.monotonic())
            self.jobs[agreement_id] = job
            threading.Thread(target=self._run_build, args=(job,), daemon=True).start()
        if request.headers.get("hx-request"):
            return self.page("build_status.html", agreement_id=agreement_id, job=job, now=time.monotonic())
        return RedirectResponse(f"/agreements/{agreement_id}", status_code=303)

    def _run_build(self, job: BuildJob) -> None:
        with self._build_lock:  # one LibreOffice build at a time: the machine is the user's laptop
            try:
                if self.workspace.latest(job.agreement_id) is None:
                    built, failed = qa.build_workspace(self.workspace, ids=[job.agreement_id])
                    job.error = failed.get(job.agreement_id)
                    job.built = f"version {built[0].new_version}" if built else None
                else:
                    report = qa.regenerate_workspace(self.workspace, only=[job.agreement_id])
                    job.error = next(iter(report.failed.values()), None) if report.failed else None
                    job.built = (f"version {report.built[0].new_version}" if report.built else
                                 "nothing changed since the last version; no new version was needed")
            except QABuilderError as exc:
                job.error = str(exc)
            except Exception as exc:  # shown to the person; the server keeps running
                job.error = f"the build stopped unexpectedly ({type(exc).__name__}: {exc})"
            finally:
                job.finished = time.monotonic()

    def _signing_source(self, agreement_id: str) -> tuple[Path, Path] | None:
        """The PDF the next signature goes into (the signed copy once there is one) and the signed copy's path."""
        latest = self.workspace.latest(agreement_id)
        if latest is None:
            return None
        folder = self.workspace.version_dir(agreement_id, latest)
        stem = f"{agreement_id}_v{latest}"
        signed = folder / f"{stem}.signed.pdf"
        source = signed if signed.is_file() else folder / f"{stem}.pdf"
        return (source, signed) if source.is_file() else None

    async def sign(self, request: Request) -> Response:
        """Sign the latest version's next empty field with a PKCS#12 key; the passphrase is used once, kept nowhere."""
        agreement_id = self.agreement_id(request)
        paths = self._signing_source(agreement_id)
        if paths is None:
            raise HTTPException(404, "Build the agreement before signing it.")
        source, signed = paths
        fields, error = self.signature_fields(source)
        outcome, unreadable = None, error is not None
        if unreadable:  # nothing can be signed into it; the page says why, as the dashboard row does
            fields = []
        elif request.method == "POST":
            form = await checked_form(request, self.gate, max_bytes=_MAX_KEY_BYTES + MAX_FORM_BYTES)
            outcome, error = await self._sign_posted(form, source, signed, [f.name for f in fields if not f.signed],
                                                     first=not any(f.signed for f in fields))
            if outcome is not None:
                fields, _ = self.signature_fields(signed)
        report = None
        if outcome is not None:
            checked = await run_in_threadpool(qa.verify_files, [signed], self.verify_settings(),
                                              trail=self.workspace.trail)  # a workspace record: recorded
            report = [line.replace(str(signed), signed.name) for result in checked.results
                      for line in qa.describe(result)]
        return self.page("sign.html", http_status=422 if error and request.method == "POST" else 200,
                         agreement_id=agreement_id, fields=fields, unreadable=unreadable,
                         outcome=outcome, error=error, report=report, meanings=_MEANINGS,
                         token=self.pkcs11_module is not None, levels=self.levels,
                         first=not any(f.signed for f in fields),
                         signed=signed.relative_to(self.workspace.root).as_posix() if signed.is_file() else None)

    async def _sign_posted(self, form: Any, source: Path, signed: Path, empty: list[str], *,
                           first: bool) -> tuple[qa.SignatureOutcome | None, str | None]:
        """Sign with the key the form names: an uploaded PKCS#12 file and its passphrase, or a key on the
        PKCS#11 token of the module `serve` was started with and its PIN. The secret is used for this one
        signature: it is not stored, logged, cached or echoed back, and the token is logged out afterwards."""
        field_name, meaning = str(form.get("field", "")), str(form.get("meaning", ""))
        if field_name not in empty:
            return None, "Signature field: choose one of the empty fields."
        if meaning not in _MEANINGS:
            return None, "Meaning: choose what the signature means."
        level = str(form.get("level", "B-B"))
        if level not in self.levels:
            return None, f"Level: choose one of {', '.join(self.levels)}."
        certify = form.get("certify") == "yes"
        if certify and not first:
            return None, "Certify: only the first signature of a document can certify it."
        request = qa.SignatureRequest(field=field_name, meaning=meaning, certify=certify,  # type: ignore[arg-type]
                                      level=level, tsa_url=self.tsa_url if level != "B-B" else None,  # type: ignore[arg-type]
                                      trust_roots=self.trust_roots)
        if str(form.get("source", "p12")) == "token":
            return await self._sign_with_token(form, source, signed, request)
        key_upload = form.get("key")
        passphrase = str(form.get("passphrase", "")).encode("utf-8")
        if key_upload is None or isinstance(key_upload, str) or not key_upload.filename:
            return None, "Key file: choose the signatory's PKCS#12 (.p12) file."
        data = await key_upload.read(_MAX_KEY_BYTES + 1)
        if len(data) > _MAX_KEY_BYTES:
            return None, "Key file: a PKCS#12 file is smaller than 1 MB; this is not one."
        try:  # the key stays in memory: a server stopped while signing leaves no copy of it on disk
            outcome = await self._sign_into(source, signed, request,
                                            lambda: qa.load_pkcs12_data(data, passphrase, name=key_upload.filename))
            return outcome, None
        except QABuilderError as exc:
            return None, str(exc)

    async def _sign_with_token(self, form: Any, source: Path, signed: Path,
                               request: qa.SignatureRequest) -> tuple[qa.SignatureOutcome | None, str | None]:
        module = self.pkcs11_module
        if module is None:
            return None, ("Key source: no PKCS#11 token module is set up; start `qa-builder serve` with "
                          "--pkcs11-module LIB to sign with a token.")
        token_label, key_label = str(form.get("token_label", "")).strip(), str(form.get("key_label", "")).strip()
        pin = str(form.get("pin", ""))
        if not token_label or not key_label:
            return None, "Token label and key label: name the token and the signatory's key on it."
        if not pin or len(pin) > _MAX_PIN_CHARS:
            return None, "PIN: type the token's user PIN."

        def load_key() -> qa.SigningKey:
            return qa.load_pkcs11_key(module, token_label, key_label, pin.encode("utf-8"))

        try:
            return await run_in_threadpool(self._sign_locked, source, signed, request, load_key), None
        except QABuilderError as exc:
            return None, str(exc)

    def _sign_locked(self, source: Path, signed: Path, request: qa.SignatureRequest,
                     load_key: Any) -> qa.SignatureOutcome:
        """Sign with a token key, logging the token out in the same thread before anyone else may use it."""
        from qa_builder.audited import sign_file

        with self._sign_lock, folder_lock(signed.parent):
            try:
                return sign_file(_latest_signed(source, signed), signed, request, load_key, force=True,
                                 trail=self.workspace.trail)
            finally:
                qa.close_pkcs11_sessions()

    async def _sign_into(self, source: Path, signed: Path, request: qa.SignatureRequest,
                         load_key: Any) -> qa.SignatureOutcome:
        """Sign `source` into `signed` (which may be `source` itself, for a later signature): signing reads the
        whole source first and replaces `signed` atomically, so it is never half-written, and the audit event
        records the signed file under its own name and hash (what `audit verify` compares)."""
        from qa_builder.audited import sign_file

        def sign_serialised() -> qa.SignatureOutcome:
            with self._sign_lock, folder_lock(signed.parent):  # also against another server on this workspace
                return sign_file(_latest_signed(source, signed), signed, request, load_key, force=True,
                                 trail=self.workspace.trail)

        return await run_in_threadpool(sign_serialised)  # pyHanko's own loop

    async def review(self, request: Request) -> Response:
        """Findings by severity, requirement gaps, and why each library clause is in or out, with edit links."""
        agreement_id = self.agreement_id(request)
        checked = await run_in_threadpool(self.checked, agreement_id)
        result = replay(self.draft(agreement_id)[0])
        prompts = {q.key: q.prompt for s in result.sections for q in s.questions}
        library = self.library()
        conditions = {c.id: c.applies_when for c in library.clauses}
        titles = {c.id: c.title for c in library.clauses}
        decisions = []
        numbers: dict[str, str] = {}
        if checked.review is not None:
            numbers = {c.clause_id: c.number for s in checked.review.agreement.sections for c in s.clauses}
            for decision in checked.review.agreement.decisions:
                said = explain(decision, conditions.get(decision.clause_id), prompts)
                pages = [p for key in said.answers if (p := _page_of(result, key)) is not None]
                decisions.append({"id": decision.clause_id, "title": titles.get(decision.clause_id, ""),
                                  "number": numbers.get(decision.clause_id), "included": decision.included,
                                  "sentence": said.sentence, "page": pages[0] if pages else None})
        findings = checked.review.findings if checked.review else []
        by_severity = [(severity, [f for f in findings if f.severity == severity]) for severity in ("error", "warning")]
        return self.page("review.html", agreement_id=agreement_id, problem=checked.problem, by_severity=by_severity,
                         gaps=checked.review.gaps if checked.review else [], decisions=decisions,
                         pages={f.id + f.field: _page_of(result, f.field) for f in findings},
                         complete=result.complete)

    async def preview(self, request: Request) -> Response:
        """The agreement as it will read, from the assembled Agreement model (an htmx fragment, or a page)."""
        agreement_id = self.agreement_id(request)
        agreement, problem = await run_in_threadpool(self.assembled, agreement_id)
        pending: list[tuple[int, str, list[str]]] = []
        problems: list[str] = []
        if agreement is None:
            answers_path = self.workspace.answers_path(agreement_id)
            draft, unreadable = self.draft(agreement_id)
            result = replay(draft)
            pending = [(number, s.title, [q.prompt.split(" [")[0] for q in s.questions if q.error or q.unanswered])
                       for number, s in enumerate(result.sections, start=1) if not s.complete and not unreadable]
            problems = [unreadable] if unreadable else _plain_problems(problem, answers_path) if not pending else []
        name = "preview_fragment.html" if request.headers.get("hx-request") else "preview.html"
        return self.page(name, agreement_id=agreement_id, agreement=agreement, pending=pending, problems=problems)

    async def regenerate(self, request: Request) -> Response:
        """Start `regenerate` over the affected agreements (or one), in the background; progress is polled."""
        form = await checked_form(request, self.gate)
        only = [str(v) for v in form.getlist("only") if isinstance(v, str)]
        known = set(self.workspace.agreement_ids())
        if any(i not in known for i in only):
            raise HTTPException(404, "No such agreement in this workspace.")
        job = self.regeneration
        if job is None or job.finished is not None:
            impacts = await run_in_threadpool(self.impacts)
            ids = only or [i for i, found in impacts.items() if found.affected]
            job = RegenerationJob(ids=ids, total=sum(1 for i in ids if i in impacts and impacts[i].affected),
                                  started=time.monotonic())
            self.regeneration = job
            threading.Thread(target=self._run_regeneration, args=(job,), daemon=True).start()
        if request.headers.get("hx-request"):
            return self.page("regenerate_status.html", regeneration=job, now=time.monotonic())
        return RedirectResponse("/", status_code=303)

    def _run_regeneration(self, job: RegenerationJob) -> None:
        with self._build_lock:
            try:
                if not job.ids:
                    job.summary = "No agreement is affected: nothing to regenerate."
                    return
                report = qa.regenerate_workspace(self.workspace, only=job.ids,
                                                 progress=lambda i, error: job.done.append((i, error)))
                job.summary = (f"{len(report.built)} new version(s) built, {len(report.skipped)} unchanged, "
                               f"{len(report.failed)} failed.")
                if report.failed:
                    job.error = "; ".join(f"{i}: {e}" for i, e in report.failed.items())
            except QABuilderError as exc:
                job.error = str(exc)
            except Exception as exc:  # shown to the person; the server keeps running
                job.error = f"the regeneration stopped unexpectedly ({type(exc).__name__}: {exc})"
            finally:
                job.finished = time.monotonic()

    async def regenerate_status(self, request: Request) -> Response:
        return self.page("regenerate_status.html", regeneration=self.regeneration, now=time.monotonic())

    async def build_status(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        return self.page("build_status.html", agreement_id=agreement_id, job=self.jobs.get(agreement_id),
                         now=time.monotonic())

    async def download(self, request: Request) -> Response:
        relative = str(request.path_params["path"])
        root = self.workspace.root.resolve()
        allowed = (root / "agreements", root / "regenerations")
        try:  # a NUL, an overlong name or a symbolic-link loop in the path is no such file, not a server failure
            target = (root / relative).resolve()
            found = (any(target.is_relative_to(folder) for folder in allowed) and target.is_file()
                     and target.suffix in _DOWNLOADABLE)
        except (OSError, ValueError, RuntimeError):
            found = False
        if not found:
            raise HTTPException(404, "No such file in this workspace.")
        return FileResponse(target, filename=target.name)

    async def verify(self, request: Request) -> Response:
        """Verify received files as `qa-builder verify` does: signed PDFs, or a signed manifest uploaded together
        with its signature (.p7s) and the artefacts it lists. Uploads live in a private temporary folder that is
        removed before the answer is sent."""
        if request.method == "GET":
            return self.page("verify.html", lines=None, verdict=None, trust=self.trust_roots)
        form = await checked_form(request, self.gate, max_files=_MAX_VERIFY_FILES, max_bytes=self.gate.max_upload)
        uploads = [u for u in form.getlist("file") if not isinstance(u, str) and u.filename]
        names = [_upload_name(str(u.filename)) for u in uploads]
        problem = None
        if not uploads:
            problem = "Files: choose a signed PDF, or a manifest with its .p7s and the files it lists."
        elif (bad := next((i for i, n in enumerate(names) if not _UPLOAD_NAME.fullmatch(n)
                           or Path(n).suffix.lower() not in _VERIFIABLE), None)) is not None:
            # "/" and "./" leave no name at all: say what was sent
            label = names[bad][:80] or f"Files: the name '{str(uploads[bad].filename)[:80]}'"
            problem = (f"{label}: only PDF, DOCX, JSON and .p7s files with plain names (letters, digits, '.', '_', "
                       "'-') can be verified here.")
        elif len(set(names)) != len(names):
            problem = "Files: two of the files have the same name; choose each file once."
        if problem:
            return self.page("verify.html", http_status=422, lines=None, verdict=None, trust=self.trust_roots,
                             error=problem)
        folder = Path(tempfile.mkdtemp(prefix="qa-builder-verify-"))  # mode 700
        try:
            for upload, name in zip(uploads, names, strict=True):
                with (folder / name).open("wb") as out:
                    shutil.copyfileobj(upload.file, out)
            manifests = [folder / n for n in names if n.endswith(".manifest.json")]
            targets = manifests or [folder / n for n in names if n.lower().endswith(".pdf")]
            if not targets:
                return self.page("verify.html", http_status=422, lines=None, verdict=None, trust=self.trust_roots,
                                 error="Files: none is a PDF or a .manifest.json, so there is nothing to verify.")
            report = await run_in_threadpool(qa.verify_files, targets, self.verify_settings())
            lines = [line.replace(f"{folder}/", "").replace(str(folder), ".") for result in report.results
                     for line in qa.describe(result)]
            verdict = _worst([r.indication for r in report.results])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        name = ", ".join(t.name for t in targets)
        return self.page("verify.html", lines=lines, verdict=verdict, name=name, trust=self.trust_roots)

    async def audit(self, request: Request) -> Response:
        """The workspace's audit trail, read-only: events filtered by agreement, action, outcome and date."""
        trail = qa.AuditTrail(self.workspace.root)
        query = request.query_params
        wanted = query.get("agreement", "").strip() or None
        since_text = query.get("since", "").strip()
        since, problem = None, None
        if since_text:
            try:
                since = dt.datetime.combine(dt.date.fromisoformat(since_text), dt.time(), tzinfo=dt.UTC)
            except ValueError:
                problem = f"From date: '{since_text[:40]}' is not a date written YYYY-MM-DD."
        events = trail.events(agreement_id=wanted, since=since) if trail.exists() else []
        action = query.get("action") or None
        outcome = query.get("outcome") or None
        events = [e for e in events if (not action or e.action == action) and (not outcome or e.outcome == outcome)]
        pages = max(1, -(-len(events) // AUDIT_PAGE_EVENTS))
        page_text = query.get("page", "").strip()
        page = int(page_text) if page_text.isascii() and page_text.isdigit() and len(page_text) < 9 else pages
        page = min(max(page, 1), pages)  # the newest events unless a page is asked for
        first = (page - 1) * AUDIT_PAGE_EVENTS
        filters = {k: v for k, v in (("agreement", wanted), ("action", action), ("outcome", outcome),
                                     ("since", since_text)) if v}
        verdict = await run_in_threadpool(qa.verify_trail, self.workspace.root) if trail.exists() else None
        return self.page("audit.html", http_status=422 if problem else 200,
                         events=events[first:first + AUDIT_PAGE_EVENTS], total=len(events), first=first,
                         page=page, pages=pages, filters=filters, verdict=verdict,
                         wanted=wanted or "", action=action or "", outcome=outcome or "", since=since_text,
                         problem=problem, actions=get_args(Action), outcomes=get_args(Outcome),
                         exists=trail.exists())

    async def audit_export(self, request: Request) -> Response:
        """The whole trail as CSV (what `qa-builder audit export --format csv` writes); the export is recorded."""
        await checked_form(request, self.gate)
        folder = Path(tempfile.mkdtemp(prefix="qa-builder-export-"))
        try:
            out = await run_in_threadpool(qa.export_csv, self.workspace.root, folder / "audit-trail.csv")
            data = out.read_bytes()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(data, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="audit-trail-{stamp}.csv"'})


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """A file's modification time, size and inode (an atomic replace changes the inode), or None if absent."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


_FILE_KINDS = ((".signed.pdf", "signed PDF"), (".redline.docx", "redline"), (".build.json", "build record"),
               (".manifest.json.p7s", "manifest signature"), (".manifest.json", "manifest"),
               (".agreement.json", "model"), (".regeneration.json", "regeneration note"), (".docx", "DOCX"),
               (".pdf", "PDF"))


def file_kind(name: str) -> str:
    """What a version's file is, in a reader's words ("redline", "build record"), from its name."""
    return next((kind for suffix, kind in _FILE_KINDS if name.endswith(suffix)), name)


def _upload_name(sent: str) -> str:
    """The plain name of an uploaded file: the last part of what the browser sent, after a / or a \\ (a Windows
    path), which may be empty ("/", "./") or not plain; `_UPLOAD_NAME` decides."""
    return re.split(r"[\\/]", sent)[-1]


def _worst(indications: list[str]) -> str | None:
    """The verdict of several files: TOTAL-FAILED if any failed, else INDETERMINATE if any is, else TOTAL-PASSED."""
    for verdict in ("TOTAL-FAILED", "INDETERMINATE", "TOTAL-PASSED"):
        if verdict in indications:
            return verdict
    return indications[0] if indications else None


def _answers_in(form: Any) -> dict[str, str]:
    """The interview answers of a posted form: fields named ``q:<question key>``."""
    return {str(k)[2:]: str(v) for k, v in form.multi_items() if str(k).startswith("q:") and isinstance(v, str)}


def _question_for(field_path: str, keys: list[str]) -> str | None:
    matches = [k for k in keys if field_path == k or field_path.startswith((k + ".", k + "["))]
    return max(matches, key=len) if matches else None


def _plain_problems(problem: str | None, answers_path: Path) -> list[str]:
    """Why a draft whose questions are all answered still cannot be assembled, one sentence per problem, without
    the answers file's path (the page is about that file)."""
    lines = [line.strip() for line in (problem or "").splitlines() if line.strip()]
    prefix = f"{answers_path} "
    return [line.removeprefix(prefix).removeprefix(f"{answers_path}: ") for line in lines]


def _page_of(result: Replay, field_path: str) -> int | None:
    index = result.section_of(field_path)
    return index + 1 if index is not None else None


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return PlainTextResponse(str(exc), status_code=exc.status)


async def _not_found(request: Request, exc: Exception) -> Response:
    detail = exc.detail if isinstance(exc, HTTPException) else "Not found."
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return PlainTextResponse(str(detail), status_code=status)


async def _input_error(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"{exc}", status_code=422)


async def _failed(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"The server could not do this: {type(exc).__name__}: {exc}. Nothing was changed; "
                             "the details are in the terminal running `qa-builder serve`.", status_code=500)


def create_app(workspace: Path, gate: Gate, *, pkcs11_module: Path | None = None, tsa_url: str | None = None,
               trust_roots: tuple[Path, ...] = ()) -> Starlette:
    """The ASGI app serving `workspace`, guarded by `gate`.

    Args:
        workspace: the workspace folder.
        gate: this run's secrets (sign-in token, session, CSRF token).
        pkcs11_module: the PKCS#11 module (shared library) the sign page may use; None offers PKCS#12 only.
            Chosen on the command line, never by the browser: loading a library runs its code.
        tsa_url: the RFC 3161 timestamp authority signatures from B-T up use (None: B-B only).
        trust_roots: PEM files of the trusted roots: B-LT and B-LTA need them, and the sign and verify pages
            verify with them.

    Raises:
        InputError: `workspace` is not a qa-builder workspace.
    """
    web = WebApp(workspace, gate, pkcs11_module=pkcs11_module, tsa_url=tsa_url, trust_roots=trust_roots)
    static = Path(__file__).parent / "static"
    routes = [
        Route("/", web.dashboard),
        Route("/new", web.new_agreement, methods=["GET", "POST"]),
        Route("/new/check", web.check, methods=["POST"]),
        Route("/agreements/{agreement_id}", web.agreement),
        Route("/agreements/{agreement_id}/interview/{number:int}", web.interview, methods=["GET", "POST"]),
        Route("/agreements/{agreement_id}/interview/{number:int}/check", web.check, methods=["POST"]),
        Route("/agreements/{agreement_id}/build", web.build, methods=["POST"]),
        Route("/agreements/{agreement_id}/build/status", web.build_status),
        Route("/agreements/{agreement_id}/review", web.review),
        Route("/agreements/{agreement_id}/preview", web.preview),
        Route("/regenerate", web.regenerate, methods=["POST"]),
        Route("/regenerate/status", web.regenerate_status),
        Route("/agreements/{agreement_id}/sign", web.sign, methods=["GET", "POST"]),
        Route("/files/{path:path}", web.download),
        Route("/verify", web.verify, methods=["GET", "POST"]),
        Route("/audit", web.audit),
        Route("/audit/export", web.audit_export, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GateMiddleware, gate=gate)],
                     exception_handlers={Refused: _refused, HTTPException: _not_found,
                                         QABuilderError: _input_error, Exception: _failed})
