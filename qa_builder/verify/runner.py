"""Verify many files in parallel worker processes, each file bounded in time and memory.

A worker is a forked child (pyHanko already imported) with an address-space limit. The parent hands out one
file at a time, waits on the pipes, and kills a worker whose file runs past the time limit; that file gets an
error result and a fresh worker takes the next one. One bad file never stops the others.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkProcess
from pathlib import Path

from qa_builder.files import read_small_file
from qa_builder.verify.manifest import verify_manifest
from qa_builder.verify.pdf import verify_pdf
from qa_builder.verify.policy import Policy, VerifySettings
from qa_builder.verify.report import FileReport, Indication

OnResult = Callable[[FileReport], None]
_QUIET_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "aiohttp", "fontTools")


def is_manifest(path: Path) -> bool:
    """Manifests are named <stem>.manifest.json (or their .p7s is named); everything else is taken as a PDF."""
    return path.name.endswith((".json", ".json.p7s"))


def verify_one(path: Path, policy: Policy, *, memory_mb: int) -> FileReport:
    """Verify one file in this process; every failure becomes a result."""
    try:
        if is_manifest(path):
            return verify_manifest(path, policy)
        # a FIFO or a device is refused at once (a FIFO would wait out --timeout, /dev/zero fill --memory)
        return verify_pdf(path, read_small_file(path, memory_mb * 1024 * 1024), policy)
    except MemoryError:
        return error_report(path, f"needs more than {memory_mb} MiB to verify; stopped", "INDETERMINATE")
    except OSError as exc:
        if exc.errno == errno.EFBIG:  # the file alone is larger than the memory allowance
            return error_report(path, f"needs more than {memory_mb} MiB to verify; stopped", "INDETERMINATE")
        return error_report(path, f"cannot be read: {unreadable_reason(exc)}", "INDETERMINATE")
    except Exception as exc:  # the last line of defence against hostile input: a result, never a traceback
        return error_report(path, f"could not be verified ({type(exc).__name__}: {exc})", "INDETERMINATE")


_UNREADABLE = {errno.ELOOP: "symlink loop", errno.EISDIR: "it is a directory",
               errno.ENOENT: "no such file (missing, or deleted after it was named)",
               errno.EACCES: "permission denied", errno.ENOTDIR: "a part of the path is not a directory",
               errno.ENAMETOOLONG: "the path is too long", errno.EINVAL: "not a regular file (a pipe or a device)"}


def unreadable_reason(exc: OSError) -> str:
    """Why a path could not be read, in a few words."""
    return _UNREADABLE.get(exc.errno or 0, (exc.strerror or str(exc)).lower())


def error_report(path: Path, error: str, indication: Indication, sub: str | None = None) -> FileReport:
    """A result for a file that could not be verified at all."""
    return FileReport(file=str(path), sha256=None, kind="manifest" if is_manifest(path) else "pdf",
                      indication=indication, sub_indication=sub, error=error, signatures=[], doc_timestamps=[])


def verify_files(paths: list[Path], policy: Policy, settings: VerifySettings,
                 on_result: OnResult | None = None) -> list[FileReport]:
    """Verify `paths` with `settings.jobs` bounded workers; results come back in the order of `paths`."""
    results: dict[int, FileReport] = {}
    pending = deque(enumerate(paths))
    context = multiprocessing.get_context("fork")
    workers = [_Worker(context, policy, settings.memory_mb) for _ in range(max(1, min(settings.jobs, len(paths))))]

    def done(index: int, report: FileReport) -> None:
        results[index] = report
        if on_result:
            on_result(report)

    try:
        while pending or any(w.task is not None for w in workers):
            for worker in workers:
                if worker.task is None and pending:
                    worker.assign(*pending.popleft(), settings.timeout_s)
            busy = [w for w in workers if w.task is not None]
            wait_s = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait_s)
            for worker in busy:
                outcome = worker.collect(worker.conn in ready, settings)
                if outcome is not None:
                    done(*outcome)
                    if not worker.alive():
                        worker.replace(context, policy, settings.memory_mb)
    finally:
        for worker in workers:
            worker.stop()
    return [results[i] for i in range(len(paths))]


@dataclass
class _Task:
    index: int
    path: Path


class _Worker:
    def __init__(self, context: multiprocessing.context.ForkContext, policy: Policy, memory_mb: int) -> None:
        self.task: _Task | None = None
        self.deadline = 0.0
        self._start(context, policy, memory_mb)

    def _start(self, context: multiprocessing.context.ForkContext, policy: Policy, memory_mb: int) -> None:
        self.conn, child = context.Pipe()
        self.process: ForkProcess = context.Process(target=_serve, args=(child, policy, memory_mb), daemon=True)
        self.process.start()
        child.close()

    def assign(self, index: int, path: Path, timeout_s: float) -> None:
        self.task = _Task(index, path)
        self.deadline = time.monotonic() + timeout_s
        self.conn.send(path)

    def collect(self, ready: bool, settings: VerifySettings) -> tuple[int, FileReport] | None:
        """The finished task's result, a timeout or crash result, or None while it is still running."""
        task = self.task
        assert task is not None
        if ready:
            try:
                payload = self.conn.recv()
                report = FileReport.model_validate_json(payload)
            except (EOFError, OSError):
                self.process.join(1)
                report = error_report(task.path, f"stopped the verifier (exit code {self.process.exitcode}); "
                                                 "the file is probably hostile or corrupt", "INDETERMINATE")
                self._kill()
        elif time.monotonic() >= self.deadline:
            report = error_report(task.path, f"took longer than {settings.timeout_s:g} s to verify; stopped",
                                  "INDETERMINATE")
            self._kill()
        else:
            return None
        self.task = None
        return task.index, report

    def alive(self) -> bool:
        return self.process.is_alive()

    def replace(self, context: multiprocessing.context.ForkContext, policy: Policy, memory_mb: int) -> None:
        self.conn.close()
        self._start(context, policy, memory_mb)

    def _kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(2)
        self._kill()
        self.conn.close()


def _serve(conn: Connection, policy: Policy, memory_mb: int) -> None:
    """Worker loop: verify each path received until None arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    _limit_memory(memory_mb)
    while True:
        try:
            path = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if path is None:
            return
        conn.send(verify_one(path, policy, memory_mb=memory_mb).model_dump_json())


def _limit_memory(memory_mb: int) -> None:
    """Allow this process `memory_mb` of address space beyond what it already uses."""
    try:
        with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        current = 0
    limit = current + memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
