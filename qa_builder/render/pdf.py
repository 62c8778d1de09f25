"""DOCX → PDF/A-2b through a pool of warm LibreOffice workers (the only module that runs LibreOffice)."""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from qa_builder import config
from qa_builder.errors import ConversionError

WORKER_SCRIPT = Path(__file__).with_name("uno_worker.py")
START_TIMEOUT = 90.0  # seconds for a worker to print {"ready": true}
STOP_TIMEOUT = 20.0  # seconds for a worker to stop LibreOffice after end of stdin
PROBE_TIMEOUT = 30.0  # seconds for `python -c "import uno"`

SOFFICE_INSTALL = (
    "install it with 'sudo apt-get install libreoffice-writer-nogui python3-uno' "
    "or set QA_BUILDER_SOFFICE to the soffice program"
)
UNO_INSTALL = (
    "install it with 'sudo apt-get install python3-uno' "
    "or set QA_BUILDER_UNO_PYTHON to a Python that can 'import uno'"
)
SOFFICE_PLACES = config.SOFFICE_PLACES
UNO_PYTHON_PLACES = config.UNO_PYTHON_PLACES

Answer = dict[str, object]


def find_soffice(soffice: str | None = None) -> str:
    """Return the path of LibreOffice's ``soffice`` program.

    Args:
        soffice: An explicit program name or path; when None, the environment
            variable ``QA_BUILDER_SOFFICE``, then ``PATH`` and the usual install
            folders are tried.

    Returns:
        The absolute path of an executable ``soffice``.

    Raises:
        ConversionError: LibreOffice was not found; the message names the
            apt-get command that installs it.
    """
    wanted = (
        soffice if soffice is not None else config.soffice()
    )
    if wanted is not None:
        found = shutil.which(wanted)
        if found is None:
            raise ConversionError(
                f"LibreOffice was not found at {wanted!r}: {SOFFICE_INSTALL}."
            )
        return os.path.abspath(found)
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found is not None:
            return os.path.abspath(found)
    for place in _expand(SOFFICE_PLACES):
        if os.path.isfile(place) and os.access(place, os.X_OK):
            return place
    raise ConversionError(f"LibreOffice was not found: {SOFFICE_INSTALL}.")


def find_uno_python(python: str | None = None) -> str:
    """Return a Python interpreter that can ``import uno`` (LibreOffice's bridge).

    Args:
        python: An explicit interpreter; when None, the environment variable
            ``QA_BUILDER_UNO_PYTHON``, then ``/usr/bin/python3`` and LibreOffice's
            bundled Python are tried.

    Returns:
        The path of the first interpreter whose ``import uno`` succeeds.

    Raises:
        ConversionError: No such interpreter; the message names
            ``apt-get install python3-uno``.
    """
    wanted = (
        python
        if python is not None
        else config.uno_python()
    )
    if wanted is not None:
        if _imports_uno(wanted):
            return wanted
        raise ConversionError(
            f"{wanted!r} cannot 'import uno' (LibreOffice's Python bridge): {UNO_INSTALL}."
        )
    for place in _expand(UNO_PYTHON_PLACES):
        if os.path.isfile(place) and _imports_uno(place):
            return place
    raise ConversionError(
        f"LibreOffice's Python bridge (uno) was not found: {UNO_INSTALL}."
    )


def _expand(patterns: tuple[str, ...]) -> list[str]:
    """Expand glob patterns, newest-looking names first within each pattern."""
    paths: list[str] = []
    for pattern in patterns:
        paths.extend(
            sorted(glob.glob(pattern), reverse=True) if "*" in pattern else [pattern]
        )
    return paths


def _imports_uno(python: str) -> bool:
    """Return True when ``python -c 'import uno'`` succeeds."""
    try:
        result = subprocess.run(
            [python, "-c", "import uno"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class _WorkerDied(Exception):
    """The worker process exited or its pipe broke."""


class _WorkerTimeout(Exception):
    """The worker did not answer in time."""


class _Worker:
    """One uno_worker.py process (with its soffice) in its own process group and folder."""

    def __init__(self, python: str, soffice: str, folder: Path) -> None:
        self.folder = folder
        self.conversions = 0
        folder.mkdir(parents=True)
        self._log: IO[bytes] = open(folder / "worker.log", "wb")  # noqa: SIM115 - closed in _reap
        self.process = subprocess.Popen(
            [
                python,
                str(WORKER_SCRIPT),
                "--soffice",
                soffice,
                "--profile",
                str(folder / "profile"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,  # own process group: killpg reaches soffice too
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(
            target=self._read, name=f"uno-worker-{self.process.pid}", daemon=True
        ).start()

    @property
    def pid(self) -> int:
        """Process id of the worker (also its process-group id)."""
        return self.process.pid

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            for line in stdout:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def _receive(self, timeout: float) -> Answer:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise _WorkerTimeout from None
        if line is None:
            self._lines.put(None)  # stay at end of file for later reads
            raise _WorkerDied(f"the worker exited ({self.log_tail()})")
        try:
            answer = json.loads(line)
        except ValueError:
            raise _WorkerDied(f"the worker wrote {line.strip()[:200]!r}") from None
        if not isinstance(answer, dict):
            raise _WorkerDied(f"the worker wrote {line.strip()[:200]!r}")
        return answer

    def wait_ready(self) -> None:
        """Wait for the ready line; on failure kill the worker and raise ConversionError."""
        try:
            answer = self._receive(START_TIMEOUT)
        except _WorkerTimeout:
            self.kill()
            raise ConversionError(
                f"LibreOffice did not start within {START_TIMEOUT:g} s."
            ) from None
        except _WorkerDied as exc:
            self.kill()
            raise ConversionError(f"LibreOffice did not start: {exc}.") from None
        if answer.get("ready") is not True:
            self.kill()
            raise ConversionError(
                f"{answer.get('error', 'LibreOffice did not start')}."
            )

    def request(self, docx: Path, pdf: Path, timeout: float) -> Answer:
        """Send one conversion request and return the answer.

        Raises:
            _WorkerDied: The worker is gone.
            _WorkerTimeout: No answer within timeout seconds.
        """
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"docx": str(docx), "pdf": str(pdf)}) + "\n")
            stdin.flush()
        except (OSError, ValueError) as exc:
            raise _WorkerDied(f"the worker's pipe broke ({exc})") from None
        return self._receive(timeout)

    def begin_stop(self) -> None:
        """Close stdin: the worker then terminates LibreOffice and exits."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass

    def finish_stop(self) -> None:
        """Wait for a stopping worker, killing its process group if it is slow."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)
        self.kill()

    def kill(self) -> None:
        """Kill the worker's whole process group (soffice included) and remove its folder."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self) -> str:
        """Return the last lines of the worker's stderr, for error messages."""
        try:
            self._log.flush()
            text = (self.folder / "worker.log").read_text(
                encoding="utf-8", errors="replace"
            )
        except (OSError, ValueError):
            return "no log"
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        lines = [
            line for line in lines if "javaldx" not in line
        ]  # harmless start-up noise
        return " | ".join(lines[-3:])[-400:] or "no output"


def _kill_all(live: set[_Worker], lock: threading.Lock, folder: Path) -> None:
    """Kill every remaining worker and remove the pool folder (also run at interpreter exit)."""
    with lock:
        workers = list(live)
        live.clear()
    for worker in workers:
        worker.kill()
    shutil.rmtree(folder, ignore_errors=True)


class PdfConverter:
    """A pool of warm LibreOffice workers; thread-safe; use as a context manager.

    Each worker is one ``uno_worker.py`` process under the ``uno`` Python with
    its own soffice and its own profile folder.  Workers start in parallel in
    the background on the first ``convert`` (or ``start``), are restarted after
    a timeout or a crash, and are recycled after ``recycle_after`` documents.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        timeout: float = 120.0,
        recycle_after: int = 200,
        soffice: str | None = None,
        uno_python: str | None = None,
    ) -> None:
        """Find LibreOffice and its Python; start no process yet.

        Args:
            workers: Number of LibreOffice processes (one per core is right).
            timeout: Seconds one document may take before its worker is killed.
            recycle_after: Conversions after which a worker is replaced by a fresh one.
            soffice: The soffice program; default: see ``find_soffice``.
            uno_python: A Python with ``uno``; default: see ``find_uno_python``.

        Raises:
            ConversionError: LibreOffice or its Python bridge is not installed.
            ValueError: workers, timeout or recycle_after is not positive.
        """
        if workers < 1 or timeout <= 0 or recycle_after < 1:
            raise ValueError("workers, timeout and recycle_after must be positive")
        self._workers = workers
        self._timeout = timeout
        self._recycle_after = recycle_after
        self._soffice = find_soffice(soffice)
        self._python = find_uno_python(uno_python)
        self._folder = Path(tempfile.mkdtemp(prefix="qa-builder-lo-"))
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker | ConversionError] = queue.Queue()
        self._live: set[_Worker] = set()  # every worker process not yet killed
        self._starters: list[threading.Thread] = []
        self._serial = itertools.count(1)
        self._started = False
        self._closed = False
        self._finalizer = weakref.finalize(
            self, _kill_all, self._live, self._lock, self._folder
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def workers(self) -> int:
        """The number of LibreOffice workers this pool runs (documents converted at once)."""
        return self._workers

    def start(self) -> None:
        """Start all workers in background threads (convert does this on first use)."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        for _ in range(self._workers):
            self._spawn()

    def convert(self, docx: Path, pdf: Path, *, timeout: float | None = None) -> None:
        """Convert one DOCX to a PDF/A-2b file, updating its TOC and fields first.

        Blocks until done.  The PDF appears at its path only when complete.  A
        worker that crashes is replaced and the document is tried once more.

        Args:
            docx: The DOCX to convert.
            pdf: Where to write the PDF (its folder must exist; replaced if present).
            timeout: Seconds for this document; default: the pool's timeout.

        Raises:
            ConversionError: The file is missing or unreadable, LibreOffice failed,
                crashed twice, or took longer than the timeout.
        """
        docx = Path(docx).absolute()
        pdf = Path(pdf).absolute()
        limit = self._timeout if timeout is None else timeout
        if not docx.is_file():
            raise ConversionError(f"{docx}: the DOCX file does not exist.")
        if not pdf.parent.is_dir():
            raise ConversionError(
                f"{pdf}: the output folder {pdf.parent} does not exist."
            )
        self.start()
        for attempt in (1, 2):
            worker = self._take()
            try:
                answer = worker.request(docx, pdf, limit)
                if answer.get("fatal") is True:
                    raise _WorkerDied(str(answer.get("error", "LibreOffice crashed")))
            except _WorkerTimeout:
                self._discard(worker, pdf)
                raise ConversionError(
                    f"{docx}: LibreOffice did not finish within the {limit:g} s timeout; "
                    "its worker was killed and restarted."
                ) from None
            except _WorkerDied as exc:
                self._discard(worker, pdf)
                if self._closed:
                    raise ConversionError(
                        f"{docx}: the PDF converter was closed during the conversion."
                    ) from None
                if attempt == 1:
                    continue
                raise ConversionError(
                    f"{docx}: LibreOffice crashed twice while converting it ({exc})."
                ) from None
            self._release(worker)
            if answer.get("ok") is True:
                return
            raise ConversionError(
                f"{docx}: {answer.get('error', 'LibreOffice failed')}."
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop every worker and LibreOffice process and remove the profiles; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            starters = list(self._starters)
        for thread in starters:
            thread.join()
        stopping: list[_Worker] = []
        while True:
            try:
                item = self._idle.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Worker):
                item.begin_stop()
                stopping.append(item)
        for worker in stopping:
            worker.finish_stop()
            with self._lock:
                self._live.discard(worker)
        self._finalizer()  # kills workers still busy in other threads, removes the folder

    # -- pool internals -------------------------------------------------------

    def _spawn(self) -> None:
        """Start one worker in a background thread; it lands in the idle queue."""
        with self._lock:
            if self._closed:
                return
            self._starters = [t for t in self._starters if t.is_alive()]
            thread = threading.Thread(
                target=self._start_one, name="uno-worker-start", daemon=True
            )
            self._starters.append(thread)
            thread.start()

    def _start_one(self) -> None:
        folder = self._folder / f"worker-{next(self._serial)}"
        try:
            with self._lock:
                if self._closed:
                    return
                worker = _Worker(self._python, self._soffice, folder)
                self._live.add(worker)
        except OSError as exc:
            self._idle.put(
                ConversionError(f"LibreOffice worker could not be started: {exc}.")
            )
            return
        try:
            worker.wait_ready()
        except ConversionError as exc:
            with self._lock:
                self._live.discard(worker)
            self._idle.put(exc)
            return
        self._idle.put(worker)

    def _take(self) -> _Worker:
        """Return an idle worker, waiting for one; raise when closed or a start failed."""
        while True:
            if self._closed:
                raise ConversionError("The PDF converter is closed.")
            try:
                item = self._idle.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(item, ConversionError):
                self._spawn()  # try again for the next document
                raise item
            return item

    def _release(self, worker: _Worker) -> None:
        """Give a healthy worker back, or recycle it after recycle_after documents."""
        worker.conversions += 1
        with self._lock:
            if not self._closed and worker.conversions < self._recycle_after:
                self._idle.put(worker)
                return
            self._live.discard(worker)
        self._spawn()
        worker.begin_stop()
        worker.finish_stop()

    def _discard(self, worker: _Worker, pdf: Path) -> None:
        """Kill a timed-out or crashed worker, remove its partial PDF, start a replacement."""
        with self._lock:
            self._live.discard(worker)
        worker.kill()
        part = pdf.with_name(
            f".{pdf.name}.{worker.pid}.part"
        )  # name used by uno_worker.py
        part.unlink(missing_ok=True)
        self._spawn()
