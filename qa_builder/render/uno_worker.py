"""One warm LibreOffice: reads DOCX→PDF/A-2b requests as JSON lines on stdin, answers on stdout.

This script runs under the Python that has LibreOffice's ``uno`` module (on
Debian ``/usr/bin/python3``), NOT in the qa_builder virtualenv, so it imports
only the standard library and ``uno``.  ``qa_builder.render.pdf`` starts it as::

    /usr/bin/python3 uno_worker.py --soffice /usr/bin/soffice --profile /tmp/x/profile-1

Protocol (one JSON object per line):

* after start-up the worker prints ``{"ready": true}``;
* then for every request ``{"docx": "/abs/in.docx", "pdf": "/abs/out.pdf"}`` it
  answers ``{"ok": true}`` or ``{"ok": false, "error": "sentence"}``; an answer
  with ``"fatal": true`` means LibreOffice itself is gone and the worker exits;
* on end of stdin it terminates LibreOffice and exits.

The PDF is first written to ``.<name>.<worker pid>.part`` next to the target and
then renamed, so the target only ever holds a complete file (the parent uses the
same name to clean up after killing a worker).

soffice runs in this worker's process group, so the parent can kill both with
one ``killpg``.  soffice's output goes to our stderr; stdout is the protocol only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import uno
import unohelper
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException
from com.sun.star.lang import DisposedException
from com.sun.star.task import XInteractionHandler

CONNECT_TIMEOUT = 60.0  # seconds to wait for soffice to accept the pipe connection
QUIT_TIMEOUT = 15.0  # seconds to wait for soffice to exit after terminate()

# FilterData for writer_pdf_Export (LibreOffice 7.4 names).
# SelectPdfVersion: 0 = PDF 1.6 default, 1 = PDF/A-1b, 2 = PDF/A-2b, 3 = PDF/A-3b.
PDF_FILTER_DATA: dict[str, Any] = {
    "SelectPdfVersion": 2,
    "UseTaggedPDF": True,
    "ExportBookmarks": True,
    "ExportFormFields": False,
}


class AbortingInteractions(unohelper.Base, XInteractionHandler):  # type: ignore[misc]
    """Answers every question LibreOffice would ask a person (e.g. "repair this file?") with Abort.

    Without it a damaged DOCX makes a headless LibreOffice wait for an answer that never comes.
    """

    def handle(self, request: Any) -> None:
        for continuation in request.getContinuations():
            if continuation.queryInterface(uno.getTypeByName("com.sun.star.task.XInteractionAbort")):
                continuation.select()
                return


def prop(name: str, value: Any) -> PropertyValue:
    """Return a com.sun.star.beans.PropertyValue."""
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def part_path(pdf: str) -> str:
    """Return the temporary name the PDF is written to before the final rename."""
    folder, name = os.path.split(pdf)
    return os.path.join(folder, f".{name}.{os.getpid()}.part")


def log(message: str) -> None:
    """Write a diagnostic line to stderr (never stdout: that is the protocol)."""
    print(f"uno_worker[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def uno_message(exc: BaseException) -> str:
    """Return the readable text of a UNO or Python exception."""
    text = getattr(exc, "Message", None) or str(exc) or ""
    text = " ".join(str(text).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DocumentError(Exception):
    """A problem with the document itself; the message is the whole sentence."""


class Office:
    """A private soffice process and the UNO Desktop connected to it."""

    def __init__(self, soffice: str, profile: str) -> None:
        self.pipe = f"qa_builder_{os.getpid()}_{secrets.token_hex(4)}"
        os.makedirs(profile, exist_ok=True)
        command = [
            soffice,
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--nofirststartwizard",
            "-env:UserInstallation="
            + uno.systemPathToFileUrl(os.path.abspath(profile)),
            f"--accept=pipe,name={self.pipe};urp;StarOffice.ComponentContext",
        ]
        # Same process group as this worker (the parent started us in a new one).
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr
        )
        try:
            self.desktop = self._connect()
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def _connect(self) -> Any:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        url = f"uno:pipe,name={self.pipe};urp;StarOffice.ComponentContext"
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"soffice exited with code {code} before it accepted a connection"
                )
            try:
                context = resolver.resolve(url)
                break
            except NoConnectException:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"soffice did not accept a connection within {CONNECT_TIMEOUT:.0f} s"
                    ) from None
                time.sleep(0.05)
        return context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )

    def alive(self) -> bool:
        """Return True while the soffice process is running."""
        return self.process.poll() is None

    def convert(self, docx: str, pdf: str) -> None:
        """Load docx hidden, update indexes and fields, export PDF/A-2b to pdf atomically."""
        # MacroExecutionMode 0 = MacroExecMode.NEVER_EXECUTE, UpdateDocMode 0 =
        # UpdateDocMode.NO_UPDATE; the DOCX filter is forced so that a file that
        # is not a DOCX fails instead of being opened as plain text.
        load_props = (
            prop("Hidden", True),
            prop("ReadOnly", True),
            prop("MacroExecutionMode", 0),
            prop("UpdateDocMode", 0),
            prop("FilterName", "MS Word 2007 XML"),
            prop("RepairPackage", False),
            prop("InteractionHandler", AbortingInteractions()),
        )
        doc = self.desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(docx), "_blank", 0, load_props
        )
        if doc is None:
            raise DocumentError(
                "LibreOffice could not open it as a DOCX file (corrupt or not a DOCX)"
            )
        part = part_path(pdf)
        try:
            self._update(doc)
            filter_data = uno.Any(
                "[]com.sun.star.beans.PropertyValue",
                tuple(prop(k, v) for k, v in PDF_FILTER_DATA.items()),
            )
            store_props = (
                prop("FilterName", "writer_pdf_Export"),
                prop("FilterData", filter_data),
                prop("Overwrite", True),
            )
            # uno.invoke is needed so the Any inside FilterData keeps its sequence type.
            uno.invoke(doc, "storeToURL", (uno.systemPathToFileUrl(part), store_props))
            os.replace(part, pdf)
        finally:
            if os.path.exists(part):
                os.remove(part)
            close(doc)

    @staticmethod
    def _update(doc: Any) -> None:
        """Refresh fields, then update every index (TOC, figures, ...).

        One pass is enough: XDocumentIndex.update() lays the document out again
        before it writes page numbers (checked with a 4-page TOC whose growth
        moved every heading by 3 pages).
        """
        doc.getTextFields().refresh()
        indexes = doc.getDocumentIndexes()
        for i in range(indexes.getCount()):
            indexes.getByIndex(i).update()
        doc.refresh()

    def quit(self) -> None:
        """Terminate soffice (gracefully, then by force)."""
        with contextlib.suppress(Exception):  # the bridge drops while soffice exits
            self.desktop.terminate()
        try:
            self.process.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("soffice did not exit after terminate(); killing it")
            self.process.kill()
            self.process.wait()


def close(doc: Any) -> None:
    """Close a loaded document, ignoring a document that is already gone."""
    try:
        doc.close(True)
    except Exception:
        with contextlib.suppress(Exception):
            doc.dispose()


def handle(office: Office, line: str) -> dict[str, Any]:
    """Run one request line and return the answer object."""
    try:
        request = json.loads(line)
        docx, pdf = str(request["docx"]), str(request["pdf"])
    except (ValueError, KeyError, TypeError):
        return {"ok": False, "error": f"bad request line {line.strip()[:200]!r}"}
    if not os.path.isfile(docx):
        return {"ok": False, "error": f"{docx}: no such file"}
    try:
        office.convert(docx, pdf)
    except DocumentError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:
        # DisposedException: the UNO bridge is gone, i.e. soffice died.
        if not office.alive() or isinstance(exc, DisposedException):
            return {
                "ok": False,
                "fatal": True,
                "error": f"LibreOffice crashed ({uno_message(exc)})",
            }
        return {"ok": False, "error": f"LibreOffice failed ({uno_message(exc)})"}
    return {"ok": True}


def main() -> int:
    """Start soffice, serve requests until end of stdin, then stop soffice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--soffice", required=True, help="path of the soffice executable"
    )
    parser.add_argument(
        "--profile", required=True, help="private LibreOffice profile folder"
    )
    args = parser.parse_args()

    # Keep a private copy of stdout for the protocol and point fd 1 at stderr, so
    # nothing else (LibreOffice libraries, stray prints) can corrupt the protocol.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def answer(obj: dict[str, Any]) -> None:
        protocol.write(json.dumps(obj) + "\n")
        protocol.flush()

    try:
        return serve(args.soffice, args.profile, answer)
    finally:
        kill_own_group()  # however serving ended, no LibreOffice process outlives this worker


def serve(soffice: str, profile: str, answer: Callable[[dict[str, Any]], None]) -> int:
    """Start soffice, answer requests from stdin until it ends, then quit soffice."""
    # The UNO runtime may reset SIGPIPE to its default, which would kill this worker silently on a write to a
    # vanished parent; ignored, the write raises and the caller's cleanup runs.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    watch_parent(os.getppid())
    try:
        office = Office(soffice, profile)
    except Exception as exc:
        answer({"ready": False, "error": f"LibreOffice did not start ({uno_message(exc)})"})
        return 1
    try:
        answer({"ready": True})
        for line in sys.stdin:
            if not line.strip():
                continue
            result = handle(office, line)
            answer(result)
            if result.get("fatal"):
                return 1
    finally:
        office.quit()
    return 0


def watch_parent(parent: int) -> None:
    """If the pool's process dies (even by kill -9), take LibreOffice down with this worker within a second."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                kill_own_group()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def kill_own_group() -> None:
    """Kill the process group this worker leads (soffice and itself), when the pool started it as a leader."""
    if os.getpgrp() == os.getpid():  # started with start_new_session by the pool: the group is ours alone
        os.killpg(os.getpgrp(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
