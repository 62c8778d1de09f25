"""The local web app: dashboard, interview, build, verify, audit trail; a thin layer over the library API.

Every page reads and writes the same files as the command line: an agreement is `agreements/<ID>/answers.yaml`
in the workspace, built versions are its `vN/` folders, and the audit trail is the workspace's.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from qa_builder.errors import QABuilderError
from qa_builder.web.interview import Replay, read_draft, replay, save_draft
from qa_builder.web.security import CSRF_FIELD, Gate, GateMiddleware, Refused, checked_form

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
_DOWNLOADABLE = {".docx", ".pdf", ".json", ".html", ".csv"}
_MAX_KEY_BYTES = 1024 * 1024


@dataclass
class BuildJob:
    """The build of one agreement running in the background."""

    agreement_id: str
    started: float
    finished: float | None = None
    error: str | None = None
    built: str | None = None


class WebApp:
    """The state of one `qa-builder serve` run: its workspace, its gate and the running builds."""

    def __init__(self, workspace: Path, gate: Gate) -> None:
        self.workspace = qa.open_workspace(workspace.absolute())
        self.gate = gate
        self.env = Environment(loader=PackageLoader("qa_builder.web", "templates"), autoescape=True)
        self.jobs: dict[str, BuildJob] = {}
        self._build_lock = threading.Lock()
        self._library: tuple[tuple[tuple[str, int, int], ...], qa.ClauseLibrary] | None = None

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

    def status(self, agreement_id: str) -> str:
        latest = self.workspace.latest(agreement_id)
        if latest is None:
            return "draft"
        signed = self.workspace.version_dir(agreement_id, latest) / f"{agreement_id}_v{latest}.signed.pdf"
        if not signed.is_file():
            return "built"
        return "signed" if all(f.signed for f in qa.list_signature_fields(signed)) else "partly signed"

    def files(self, agreement_id: str, version: int | None) -> list[str]:
        """The downloadable files of a version (DOCX, PDF, redline, build record...), workspace-relative."""
        if version is None:
            return []
        folder = self.workspace.version_dir(agreement_id, version)
        return sorted(p.relative_to(self.workspace.root).as_posix() for p in folder.iterdir()
                      if p.is_file() and p.suffix in _DOWNLOADABLE)

    def library(self) -> qa.ClauseLibrary:
        """The workspace's clause library, loaded again only when one of its files changed (size or time)."""
        folder = self.workspace.library_dir
        stamp = tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")
                             if p.is_file()))
        if self._library is None or self._library[0] != stamp:
            self._library = (stamp, qa.load_library(folder))
        return self._library[1]

    def findings(self, agreement_id: str) -> tuple[list[qa.Finding], str | None]:
        """The review findings of a complete draft, or the sentence saying why it cannot be reviewed yet."""
        try:
            return qa.check_answers(self.workspace.answers_path(agreement_id), library=self.library()), None
        except QABuilderError as exc:
            return [], str(exc)

    # -- pages --------------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        rows = []
        for agreement_id in self.workspace.agreement_ids():
            findings, problem = self.findings(agreement_id)
            rows.append({"id": agreement_id, "versions": self.workspace.versions(agreement_id),
                         "files": self.files(agreement_id, self.workspace.latest(agreement_id)),
                         "status": self.status(agreement_id), "errors": sum(f.severity == "error" for f in findings),
                         "warnings": sum(f.severity == "warning" for f in findings), "problem": problem})
        examples = sorted(p.stem for p in (self.workspace.root / "examples").glob("*.yaml"))
        return self.page("dashboard.html", rows=rows, examples=examples)

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
                    save_draft(self.workspace.answers_path(agreement_id), result.data)
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
        path = example if example.is_file() else self.workspace.answers_path(start)
        if not path.is_file():
            raise HTTPException(404, "No such example or agreement.")
        draft = read_draft(path)
        if isinstance(draft.get("agreement"), dict):
            draft["agreement"] = {**draft["agreement"], "id": None, "version": 1}
        return draft

    def interview_page(self, agreement_id: str | None, result: Replay, index: int, *, start: str = "",
                       status: int = 200) -> HTMLResponse:
        findings: dict[str, list[qa.Finding]] = {}
        problem = None
        if agreement_id is not None and result.complete:
            found, problem = self.findings(agreement_id)
            keys = [q.key for q in result.sections[index].questions]
            for finding in found:
                key = _question_for(finding.field, keys)
                if key is not None:
                    findings.setdefault(key, []).append(finding)
        check_url = f"/agreements/{agreement_id}/interview/{index + 1}/check" if agreement_id else "/new/check"
        return self.page("interview.html", http_status=status, agreement_id=agreement_id, sections=result.sections,
                         index=index, section=result.sections[index], findings=findings, problem=problem,
                         complete=result.complete, start=start, check_url=check_url, oob=False)

    async def check(self, request: Request) -> Response:
        """Validate a page's answers as they are typed (htmx, on change); nothing is saved."""
        form = await checked_form(request, self.gate)
        if "agreement_id" in request.path_params:
            agreement_id = self.agreement_id(request)
            draft = read_draft(self.workspace.answers_path(agreement_id))
            index = int(request.path_params["number"]) - 1
        else:
            draft, index = self._start_from(str(form.get("from", ""))), 0
        result = replay(draft, _answers_in(form))
        if not 0 <= index < len(result.sections):
            raise HTTPException(404, "No such page of the interview.")
        return self.page("interview_check.html", section=result.sections[index], oob=True)

    async def interview(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        number = int(request.path_params["number"])
        path = self.workspace.answers_path(agreement_id)
        submitted: dict[str, str] = {}
        if request.method == "POST":
            submitted = _answers_in(await checked_form(request, self.gate))
        result = replay(read_draft(path), submitted)
        if not 1 <= number <= len(result.sections):
            raise HTTPException(404, "No such page of the interview.")
        index = number - 1
        if request.method == "POST":
            section = result.sections[index]
            if result.data["agreement"]["id"] != agreement_id:
                section.questions[0].error = (f"the id of an agreement cannot be changed here (it is "
                                              f"{agreement_id}); start a new agreement from this one instead")
            if any(q.error for q in section.questions):
                return self.interview_page(agreement_id, result, index, status=422)
            save_draft(path, result.data)
            following = number + 1 if number < len(result.sections) else None
            target = f"/agreements/{agreement_id}/interview/{following}" if following else \
                f"/agreements/{agreement_id}"
            return RedirectResponse(target, status_code=303)
        return self.interview_page(agreement_id, result, index)

    async def agreement(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        result = replay(read_draft(self.workspace.answers_path(agreement_id)))
        findings, problem = self.findings(agreement_id)
        pages = {f.id + f.field: _page_of(result, f.field) for f in findings}
        versions = []
        for version in reversed(self.workspace.versions(agreement_id)):
            versions.append({"number": version, "files": self.files(agreement_id, version)})
        return self.page("agreement.html", agreement_id=agreement_id, status=self.status(agreement_id),
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
        fields = qa.list_signature_fields(source)
        outcome, error = None, None
        if request.method == "POST":
            form = await checked_form(request, self.gate)
            outcome, error = await self._sign_posted(form, source, signed, [f.name for f in fields if not f.signed])
            if outcome is not None:
                fields = qa.list_signature_fields(signed)
        report = None
        if outcome is not None:
            checked = await run_in_threadpool(qa.verify_files, [signed], trail=self.workspace.trail)
            report = [line.replace(str(signed), signed.name) for result in checked.results
                      for line in qa.describe(result)]
        return self.page("sign.html", http_status=422 if error else 200, agreement_id=agreement_id, fields=fields,
                         outcome=outcome, error=error, report=report,
                         signed=signed.relative_to(self.workspace.root).as_posix() if signed.is_file() else None)

    async def _sign_posted(self, form: Any, source: Path, signed: Path,
                           empty: list[str]) -> tuple[qa.SignatureOutcome | None, str | None]:
        from qa_builder.audited import sign_file

        field_name, meaning = str(form.get("field", "")), str(form.get("meaning", ""))
        key_upload = form.get("key")
        passphrase = str(form.get("passphrase", "")).encode("utf-8")
        if field_name not in empty:
            return None, "Signature field: choose one of the empty fields."
        if meaning not in ("authorship", "review", "approval", "responsibility"):
            return None, "Meaning: choose what the signature means."
        if key_upload is None or isinstance(key_upload, str) or not key_upload.filename:
            return None, "Key file: choose the signatory's PKCS#12 (.p12) file."
        data = await key_upload.read(_MAX_KEY_BYTES + 1)
        if len(data) > _MAX_KEY_BYTES:
            return None, "Key file: a PKCS#12 file is smaller than 1 MB; this is not one."
        folder = Path(tempfile.mkdtemp(prefix="qa-builder-key-"))  # mode 700; removed before the reply
        target = signed.with_name(signed.name.replace(".signed.pdf", ".signing.pdf"))
        try:
            key_path = folder / "key.p12"
            key_path.write_bytes(data)
            request = qa.SignatureRequest(field=field_name, meaning=meaning)  # type: ignore[arg-type]
            outcome = await run_in_threadpool(  # pyHanko runs its own event loop
                sign_file, source, target, request,
                lambda: qa.load_pkcs12_key(key_path, passphrase, keep=False),  # never kept across users
                force=True, trail=self.workspace.trail)
            target.replace(signed)
            return outcome, None
        except QABuilderError as exc:
            return None, str(exc).replace(str(key_path), key_upload.filename)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            target.unlink(missing_ok=True)

    async def build_status(self, request: Request) -> Response:
        agreement_id = self.agreement_id(request)
        return self.page("build_status.html", agreement_id=agreement_id, job=self.jobs.get(agreement_id),
                         now=time.monotonic())

    async def download(self, request: Request) -> Response:
        relative = str(request.path_params["path"])
        root = self.workspace.root.resolve()
        target = (root / relative).resolve()
        allowed = (root / "agreements", root / "regenerations")
        if (not any(target.is_relative_to(folder) for folder in allowed) or not target.is_file()
                or target.suffix not in _DOWNLOADABLE):
            raise HTTPException(404, "No such file in this workspace.")
        return FileResponse(target, filename=target.name)

    async def verify(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page("verify.html", lines=None, verdict=None)
        form = await checked_form(request, self.gate)
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            return self.page("verify.html", http_status=422, lines=None, verdict=None,
                             error="Choose a PDF file to verify.")
        name = Path(upload.filename).name
        if not name.lower().endswith(".pdf"):
            return self.page("verify.html", http_status=422, lines=None, verdict=None,
                             error=f"{name}: only PDF files can be verified here.")
        folder = Path(tempfile.mkdtemp(prefix="qa-builder-verify-"))
        try:
            path = folder / "received.pdf"
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out)
            report = await run_in_threadpool(qa.verify_files, [path])
            lines = [line.replace(str(path), name) for result in report.results for line in qa.describe(result)]
            verdict = report.results[0].indication if report.results else None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return self.page("verify.html", lines=lines, verdict=verdict, name=name)

    async def audit(self, request: Request) -> Response:
        trail = qa.AuditTrail(self.workspace.root)
        wanted = request.query_params.get("agreement") or None
        events = trail.events(agreement_id=wanted) if trail.exists() else []
        action = request.query_params.get("action") or None
        if action:
            events = [e for e in events if e.action == action]
        verdict = qa.verify_trail(self.workspace.root) if trail.exists() else None
        return self.page("audit.html", events=events, verdict=verdict, wanted=wanted or "", action=action or "")


def _answers_in(form: Any) -> dict[str, str]:
    """The interview answers of a posted form: fields named ``q:<question key>``."""
    return {str(k)[2:]: str(v) for k, v in form.multi_items() if str(k).startswith("q:") and isinstance(v, str)}


def _question_for(field_path: str, keys: list[str]) -> str | None:
    matches = [k for k in keys if field_path == k or field_path.startswith((k + ".", k + "["))]
    return max(matches, key=len) if matches else None


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


def create_app(workspace: Path, gate: Gate) -> Starlette:
    """The ASGI app serving `workspace`, guarded by `gate`.

    Raises:
        InputError: `workspace` is not a qa-builder workspace.
    """
    web = WebApp(workspace, gate)
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
        Route("/agreements/{agreement_id}/sign", web.sign, methods=["GET", "POST"]),
        Route("/files/{path:path}", web.download),
        Route("/verify", web.verify, methods=["GET", "POST"]),
        Route("/audit", web.audit),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GateMiddleware, gate=gate)],
                     exception_handlers={Refused: _refused, HTTPException: _not_found,
                                         QABuilderError: _input_error, Exception: _failed})
