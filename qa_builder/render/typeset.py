"""Agreement → tagged PDF/A-2b typeset directly by Typst, without a DOCX in between (Typst itself runs in
`qa_builder.render.typeset_worker`, the only module importing it)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from qa_builder import config
from qa_builder.errors import ConversionError, Hint, Remedy
from qa_builder.files import atomic_writer
from qa_builder.models.agreement import Agreement

TEMPLATE = Path(__file__).with_name("typeset.typ")

# Fonts in the order Typst falls back through them, glyph by glyph: Latin text in Carlito (metric-compatible
# with the DOCX template's Calibri), then Liberation Sans; Hebrew, Arabic and other scripts Carlito lacks in
# DejaVu Sans; Chinese, Japanese and Korean in Noto Sans CJK. Each family is found as files (never fetched).
FONT_FAMILIES = ("Carlito", "Liberation Sans", "DejaVu Sans", "Noto Sans CJK JP")
FONT_FILES = {
    "Carlito": ("Carlito-Regular.ttf", "Carlito-Bold.ttf", "Carlito-Italic.ttf", "Carlito-BoldItalic.ttf"),
    "Liberation Sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Italic.ttf",
                        "LiberationSans-BoldItalic.ttf"),
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    "Noto Sans CJK JP": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"),
}
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "/System/Library/Fonts")
FONT_INSTALL = "install them with 'sudo apt-get install fonts-crosextra-carlito fonts-dejavu-core fonts-noto-cjk'"

# Fixed texts of the document; the same words as the DOCX template (tools/make_template.py), which
# tests/test_typeset.py checks by comparing the text of both documents.
RACI_LEGEND = (
    "R = Responsible (performs the activity); A = Accountable (approves and answers for it; exactly one "
    "party per activity); C = Consulted before the activity; I = Informed of the outcome. Rows marked * "
    "differ from the library's default allocation.")
TIMELINES_LEGEND = (
    "Every time limit this Agreement sets: the obligation, the party that must act, the clock, what starts it, "
    "and the clause that sets it. The clause governs; this table lists each clock the clauses state and no other.")
TRACEABILITY_LEGEND = (
    "This annex is informative and not contractual: the clauses of this Agreement govern. It lists each "
    "regulatory requirement that applies to the arrangement of this Agreement (its products, markets, release "
    "arrangement and services) and the clauses that address it. Sources are cited by the short keys listed "
    "under Sources below. A source marked (unverified) was not checked against the primary text of the "
    "instrument: its provision number or wording is not confirmed.")
SOURCES_LEGEND = "Each instrument cited in this annex, once, under the key the table above uses."
# {first}: the party the first signatory signs for (an affiliate of the Sponsor may sign first, review5 M5)
SIGNATURE_INTRO = (
    "The Parties execute this Agreement by the electronic signatures of their authorised representatives "
    "below. Each signature shows the signatory's printed name, the date and time of signing (UTC) and the "
    "meaning of the signature, and is cryptographically bound to this document (21 CFR 11.50 and 11.70). "
    "The signatory for {first} signs first, and the others follow in the order below.")
SIGNATURE_NOTE = (
    "Signature fields are filled in order: the first signature, for {first}, certifies the document; later "
    "signatures approve it. Any change to the signed document after signing is detectable.")
SIGNATURE_CAPTION = "Signature field "  # what render/fields.py looks for


def find_fonts(font_dirs: list[Path] | None = None) -> list[Path]:
    """Return the font files of FONT_FAMILIES, one list in fallback order.

    Args:
        font_dirs: Folders to search (recursively); default: ``QA_BUILDER_FONT_DIRS`` (``os.pathsep``-separated)
            or the usual system font folders.

    Returns:
        Paths of the font files found; every family has at least its regular face.

    Raises:
        ConversionError: A family is missing; the message names the package that installs it.
    """
    if font_dirs is None:
        font_dirs = config.font_dirs() or [Path(p) for p in FONT_DIRS]
    wanted = {name for names in FONT_FILES.values() for name in names}
    found: dict[str, Path] = {}
    for folder in font_dirs:
        if not folder.is_dir():
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if name in wanted and name not in found:
                    found[name] = Path(root) / name
    missing = [family for family, names in FONT_FILES.items() if names[0] not in found]
    if missing:
        raise ConversionError(f"the PDF fonts {', '.join(missing)} are not installed: {FONT_INSTALL}")
    return [found[name] for names in FONT_FILES.values() for name in names if name in found]


def document_data(agreement: Agreement) -> dict[str, Any]:
    """Everything the Typst template shows, as display strings in the DOCX template's words.

    The DOCX template formats some fields (dates, joined lists, upper-case section titles); the same
    formatting is done here so that both documents say the same thing.
    """
    a = agreement
    parties = []
    for party in (a.sponsor, a.contract_acceptor):
        parties.append({"name": party.name, "address_line": f"{party.address}, {party.country}",
                        "term_line": f'(the "{party.defined_term}")'})
        parties += [{"name": f.name, "address_line": f"{f.address}, {f.country}", "term_line": f.term_line}
                    for f in a.affiliates if f.affiliate_of == party.role]  # after their principal (R3-3)
    return {
        "fonts": list(FONT_FAMILIES),
        "document_title": f"Quality Agreement {a.id}, version {a.version}: {a.title}",
        "title": a.title,
        "header": f"Quality Agreement {a.id} · Version {a.version} · {a.title}",
        "footer": f"{a.sponsor.name} – {a.contract_acceptor.name} · Confidential",
        "first_footer": f"Confidential · {a.id} · Version {a.version}",
        "parties": parties,
        "cover_rows": [
            ["Agreement ID", a.id],
            ["Version", str(a.version)],
            ["Effective date", a.effective_date.strftime("%d %B %Y")],
            ["Products", "; ".join(a.products)],
            ["Markets", ", ".join(a.markets)],
            ["Clause library", f"{a.library_name}, version {a.library_version}"],
        ],
        "revisions": [[str(r.version), r.date.strftime("%d %b %Y"), r.description] for r in a.revisions],
        "sections": [
            {"number": f"{s.number}.", "title": s.title.upper(),
             "clauses": [{"number": c.number, "title": c.title,
                          "paragraphs": [{"kind": p.kind, "label": p.label, "text": p.text} for p in c.paragraphs]}
                         for c in s.clauses]}
            for s in a.sections],
        "raci_legend": RACI_LEGEND,
        "raci": [[f"{r.number}{'*' if r.overridden else ''}", r.area, r.activity, r.sponsor, r.contract_acceptor,
                  r.notes] for r in a.raci],
        "timelines_legend": TIMELINES_LEGEND,
        "timelines": [[t.event, t.who, t.clock, t.trigger or "–", t.clause_number] for t in a.timelines],
        "traceability_legend": TRACEABILITY_LEGEND,
        "traceability": [[t.summary, t.citation or t.source, ", ".join(t.clause_numbers) or "–"]
                         for t in a.traceability],
        "sources_legend": SOURCES_LEGEND,
        "sources": [[s.key, s.citation] for s in a.sources],
        "signature_intro": SIGNATURE_INTRO.format(first=a.signatories[0].party_name),
        "signatories": [
            {"party_name": s.party_name, "caption": SIGNATURE_CAPTION + s.field_name,
             "lines": [["Name", s.name], ["Title", s.title], ["Meaning", s.meaning.capitalize()],
                       ["E-mail", s.email]]}
            for s in a.signatories],
        "signature_note": SIGNATURE_NOTE.format(first=a.signatories[0].party_name),
    }


class _TypstProcess:
    """One ``python -m qa_builder.render.typeset_worker`` process and the pipes to it."""

    def __init__(self, setup: bytes) -> None:
        # the child imports this very qa_builder, wherever it was imported from
        environment = config.child_python_environment(str(Path(__file__).resolve().parents[2]))
        self.process = subprocess.Popen([sys.executable, "-m", "qa_builder.render.typeset_worker"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=environment, start_new_session=True)  # Ctrl-C goes to the parent only
        self.documents = 0
        self._pending = setup  # written with the first request (never blocks the caller of start())

    def request(self, body: bytes, timeout: float) -> tuple[bytes, bytes]:
        """Send one request and return (kind, payload) of the answer.

        Raises:
            _TypstStopped: the process ended, or did not answer within `timeout` seconds.
        """
        from qa_builder.render.typeset_worker import HEADER

        assert self.process.stdin is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        self._write(self._pending + HEADER.pack(len(body)) + body, deadline)
        self._pending = b""
        head = self._read(1 + HEADER.size, deadline)
        (size,) = HEADER.unpack(head[1:])
        if size > MAX_PDF_BYTES:
            raise _TypstStopped(f"answered with {size:,} bytes")
        self.documents += 1
        return head[:1], self._read(size, deadline)

    def _write(self, data: bytes, deadline: float) -> None:
        assert self.process.stdin is not None
        fd, view = self.process.stdin.fileno(), memoryview(data)
        os.set_blocking(fd, False)
        while view:
            if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
                raise _TypstStopped("did not read the document in time")
            try:
                view = view[os.write(fd, view[:1 << 16]):]
            except BlockingIOError:
                continue
            except OSError as exc:  # BrokenPipeError: it ended
                raise _TypstStopped("ended") from exc

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd, parts, left = self.process.stdout.fileno(), [], size
        while left:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise _TypstStopped("did not finish in time")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise _TypstStopped("ended")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def stop(self) -> None:
        """End the process: its input closes (it exits), and it is killed if still there after a second."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


class _TypstStopped(Exception):
    """A Typst process ended or overran its time."""


MAX_PDF_BYTES = 512 * 1024 * 1024
"""The largest PDF a typesetting process may answer with (the 39-page example: ~0.8 MB)."""


def _stop_all(processes: list[_TypstProcess]) -> None:
    for process in processes:
        process.stop()
    processes.clear()


class PdfTypesetter:
    """Typesets Agreements to PDF/A-2b in warm Typst processes; thread-safe; use as a context manager.

    Each of ``workers`` processes keeps its fonts loaded and its compiler warm between documents; build threads
    hand one the document data and get the PDF's bytes back. Typst's memo caches are per process, and two threads
    in one process take turns on them (see `qa_builder.render.typeset_worker`), so documents are typeset in
    parallel only in separate processes. A process is replaced after ``recycle_after`` documents, so that its
    memory cannot grow without bound, and after a crash or a timeout.
    """

    def __init__(self, *, workers: int = 1, font_dirs: list[Path] | None = None, recycle_after: int = 200,
                 timeout: float = 120.0, template: Path = TEMPLATE) -> None:
        """Find the fonts and the template; start no process yet.

        Args:
            workers: Typst processes (documents typeset at once); 1 to 32.
            font_dirs: Folders holding the fonts (see `find_fonts`).
            recycle_after: Documents after which a process is replaced.
            timeout: Seconds one document may take before its process is killed.
            template: The Typst template (the bundled `typeset.typ`; another only to test failures).

        Raises:
            ConversionError: fonts or the template are missing.
            ValueError: workers, recycle_after or timeout out of range.
        """
        if recycle_after < 1 or not 1 <= workers <= 32 or timeout <= 0:
            raise ValueError("workers must be 1 to 32, recycle_after and timeout positive")
        fonts = find_fonts(font_dirs)
        if not template.is_file():
            raise ConversionError(f"{template}: the Typst template is missing")
        self._root = tempfile.mkdtemp(prefix="qa-builder-typst-")  # empty: the template reads no files
        setup = {"font_dirs": sorted({str(p.parent) for p in fonts}), "template": str(template.absolute()),
                 "root": self._root}
        self._setup = (json.dumps(setup) + "\n").encode("utf-8")
        self._workers = workers
        self._recycle_after = recycle_after
        self._timeout = timeout
        self._ready = threading.Condition()
        self._idle: list[_TypstProcess] = []
        self._live: list[_TypstProcess] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_all, self._live)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def process_ids(self) -> list[int]:
        """The ids of the Typst processes running now (for diagnostics and tests)."""
        with self._ready:
            return [p.process.pid for p in self._live]

    def start(self) -> None:
        """Start every process now (each loads its fonts, ~0.5 s, while the caller loads the library)."""
        with self._ready:
            while not self._closed and len(self._live) < self._workers:
                process = _TypstProcess(self._setup)
                self._live.append(process)
                self._idle.append(process)

    def close(self) -> None:
        """Stop the processes and remove the empty project folder."""
        with self._ready:
            self._closed = True
            self._idle.clear()
            self._ready.notify_all()
        self._finalizer()
        shutil.rmtree(self._root, ignore_errors=True)

    def _take(self) -> _TypstProcess:
        with self._ready:
            while True:
                if self._closed:
                    raise ConversionError("the Typst processes were stopped")
                if self._idle:
                    return self._idle.pop()
                if len(self._live) < self._workers:
                    process = _TypstProcess(self._setup)
                    self._live.append(process)
                    return process
                self._ready.wait()

    def _give_back(self, process: _TypstProcess, *, healthy: bool) -> None:
        with self._ready:
            if healthy and not self._closed and process.documents < self._recycle_after:
                self._idle.append(process)
                self._ready.notify()
                return
            if process in self._live:
                self._live.remove(process)
            self._ready.notify()
        process.stop()

    def typeset(self, agreement: Agreement, pdf: Path, *, now: dt.datetime | None = None) -> None:
        """Write the agreement as a tagged PDF/A-2b file (complete or not at all).

        Args:
            agreement: The assembled agreement.
            pdf: Where to write the PDF (its folder must exist; replaced if present).
            now: The document's creation time (UTC); default: now.

        Raises:
            ConversionError: Typst reported an error, its process stopped or overran the timeout (the message
                says which).
        """
        stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        body = json.dumps({"data": json.dumps(document_data(agreement), ensure_ascii=False),
                           "timestamp": stamp.isoformat()}).encode("utf-8")
        process = self._take()
        try:
            kind, payload = process.request(body, self._timeout)
        except _TypstStopped as exc:
            self._give_back(process, healthy=False)
            raise ConversionError(f"{agreement.id}: the Typst process {exc} while typesetting the PDF (limit "
                                  f"{self._timeout:g} s); it was replaced: build the agreement again",
                                  hint=Hint(Remedy.LIBREOFFICE_ENGINE)) from None
        except BaseException:
            self._give_back(process, healthy=False)  # e.g. Ctrl-C while waiting: its answer would be out of step
            raise
        self._give_back(process, healthy=True)
        message = payload.decode("utf-8", "replace")
        if kind == b"X":
            raise ConversionError(f"{agreement.id}: Typst failed while typesetting the PDF ({message})",
                                  hint=Hint(Remedy.LIBREOFFICE_ENGINE))
        if kind != b"P":
            raise ConversionError(f"{agreement.id}: Typst could not typeset the PDF: {message}")
        with atomic_writer(pdf) as handle:
            handle.write(payload)
