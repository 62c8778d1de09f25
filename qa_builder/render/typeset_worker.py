"""What runs inside a Typst typesetting process: one warm compiler, fed document data, returning PDF bytes.

Run as ``python -m qa_builder.render.typeset_worker`` by `qa_builder.render.typeset.PdfTypesetter`, which
speaks to it over its standard input and output: first one JSON line (fonts, template, project folder), then
per document a request ``[8-byte length][JSON: data, timestamp]`` answered by ``[kind][8-byte length][payload]``
(kind ``P``: the PDF; ``E``: Typst's error message; ``X``: Typst itself failed). It stops at the end of its input.

Typst's memoisation (comemo) keeps process-wide caches behind locks: two threads typesetting in one process
take turns (measured: two threads, three 39-page agreements each, used one core and took longer than one
thread doing all six). Each process has its own caches, so agreements typeset in parallel in separate
processes. This module imports only Typst and the standard library, so a process starts in well under a second.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import struct
import sys
from dataclasses import dataclass
from typing import BinaryIO, Final

import typst

# The binding calls comemo's evict(10) after every compile: memoised layout results live on for ten more
# compiles. Our documents differ, so those results are rarely reused, and ten documents' worth (~50 MB each)
# is ~550 MB of resident memory. Ten compiles of an empty document (~2 ms in all) age them out at once.
CACHE_AGE_STEPS = 10
PDF_STANDARD: Final = "a-2b"
"""The PDF/A conformance level of the record (the signing issue settled on PDF/A-2b)."""


@dataclass(frozen=True)
class Typeset:
    """The outcome of one document: the PDF's bytes, or Typst's message (`panic`: Typst itself failed)."""

    pdf: bytes | None = None
    error: str | None = None
    panic: bool = False


@dataclass
class _Warm:
    template: bytes
    compiler: typst.Compiler
    ager: typst.Compiler


_warm: _Warm | None = None


def start(font_dirs: list[str], template: bytes, root: str) -> None:
    """Prepare this process: load the fonts once and make the compilers (the pool's initializer).

    Ctrl-C reaches every process of the terminal's group; the parent stops the pool, so this process ignores it
    (otherwise each worker would print its own KeyboardInterrupt traceback).
    """
    global _warm
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False, font_paths=font_dirs)
    nothing = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False)
    _warm = _Warm(template=template,
                  compiler=typst.Compiler(root=root, font_paths=fonts, ignore_system_fonts=True),
                  ager=typst.Compiler(root=root, font_paths=nothing, ignore_system_fonts=True))


def typeset(data: str, timestamp: dt.datetime) -> Typeset:
    """Typeset the template over `data` (the JSON of `typeset.document_data`) as tagged PDF/A bytes.

    Args:
        data: JSON text, passed to the template as ``sys.inputs.agreement``.
        timestamp: The document's creation time (timezone-aware).

    Returns:
        The PDF, or the message of Typst's error; never raises for a document Typst refuses.
    """
    if _warm is None:
        raise RuntimeError("typeset_worker.start was not called in this process")
    try:
        result = _warm.compiler.compile(input=_warm.template, format="pdf", sys_inputs={"agreement": data},
                                        pdf_standards=[PDF_STANDARD], timestamp=timestamp, pdf_tags=True)
    except typst.TypstError as exc:
        return Typeset(error=str(exc.message))
    except BaseException as exc:  # a panic inside Typst arrives as pyo3's PanicException (a BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        return Typeset(error=str(exc), panic=True)
    finally:
        for _ in range(CACHE_AGE_STEPS):  # let Typst's memo cache drop what this document left in it
            _warm.ager.compile(input=b"", format="svg")
    if not isinstance(result, bytes):
        return Typeset(error="Typst returned no PDF")
    return Typeset(pdf=result)


HEADER = struct.Struct(">Q")
"""The length before each request and answer (bytes)."""
MAX_REQUEST = 64 * 1024 * 1024
"""The largest request read (an agreement's data is ~0.2 MB; agreements are bounded at 1,000,000 characters)."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the input ends (the parent closed it, or stopped)."""
    while (header := _read_exactly(requests, HEADER.size)) is not None:
        (size,) = HEADER.unpack(header)
        if size > MAX_REQUEST or (body := _read_exactly(requests, size)) is None:
            return
        request = json.loads(body)
        outcome = typeset(request["data"], dt.datetime.fromisoformat(request["timestamp"]))
        kind, payload = (b"P", outcome.pdf) if outcome.pdf is not None else \
            (b"X" if outcome.panic else b"E", (outcome.error or "").encode("utf-8", "replace"))
        answers.write(kind + HEADER.pack(len(payload)) + payload)
        answers.flush()


def main() -> None:
    """Read the set-up line, warm the compiler, then serve (see the module's docstring)."""
    setup = json.loads(sys.stdin.buffer.readline())
    with open(setup["template"], "rb") as handle:
        template = handle.read()
    start(setup["font_dirs"], template, setup["root"])
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
