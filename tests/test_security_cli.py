"""Issue 12, last round: what an attacker who knows only the README tried from the command line.

Each test runs `qa-builder` as a user would (a separate process, with a timeout where the fault was a hang)
and asserts one `error:` line naming the culprit, the README's exit code, and no traceback or "internal error".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_EXAMPLE, ROOT


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "qa_builder", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def _one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    return errors[0]


# --- a FIFO (no writer) or a device given as any input file is refused at once, never waited on -------------

@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.libreoffice
@pytest.mark.parametrize("which", ["passphrase", "key", "trust", "pdf"])
def test_sign_refuses_a_fifo_for_any_of_its_files(tmp_path: Path, fifo: Path, minimal_build: Path, test_pki: Any,
                                                  which: str) -> None:
    files = {"passphrase": test_pki.passphrase_file, "key": test_pki.p12("sponsor"), "trust": test_pki.root_pem,
             "pdf": minimal_build / "QA-MIN-1_v1.pdf"}
    files[which] = fifo
    result = _cli("sign", str(files["pdf"]), "-o", str(tmp_path / "out.pdf"), "--field", "sig_sponsor_1",
                  "--meaning", "approval", "--certify", "--check-revocation", "--trust", str(files["trust"]),
                  "--key", str(files["key"]), "--passphrase-file", str(files["passphrase"]), timeout=30)
    line = _one_line(result)
    assert str(fifo) in line and "not a regular file" in line, line
    assert not (tmp_path / "out.pdf").exists()


def test_listing_fields_and_verify_trust_refuse_a_fifo(fifo: Path) -> None:
    assert "not a regular file" in _one_line(_cli("sign", str(fifo), timeout=30))
    line = _one_line(_cli("verify", str(DEMO_EXAMPLE), "--trust", str(fifo), timeout=30))
    assert str(fifo) in line and "not a regular file" in line, line


def test_a_pin_file_that_is_a_fifo_or_device_is_refused(fifo: Path) -> None:
    for path in (fifo, Path("/dev/zero")):
        line = _one_line(_cli("sign", str(DEMO_EXAMPLE), "-o", "/tmp/never.pdf", "--field", "f", "--meaning",
                              "approval", "--pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "t",
                              "--key-label", "k", "--pin-file", str(path), timeout=30))
        assert str(path) in line and "not a regular file" in line, line


def test_a_template_that_is_a_fifo_is_refused(tmp_path: Path, fifo: Path) -> None:
    line = _one_line(_cli("build", str(DEMO_EXAMPLE), "-o", str(tmp_path / "out"), "--template", str(fifo),
                          timeout=60))
    assert str(fifo) in line and "not a regular file" in line, line


# --- bad input to `sign` and `manifest` is exit 2, as the README defines; a TSA failure names URL and reason ---

def _sign_args(pdf: Path, out: Path, pki: Any, **change: str) -> list[str]:
    options = {"--field": "sig_sponsor_1", "--meaning": "approval", "--key": str(pki.p12("sponsor")),
               "--passphrase-file": str(pki.passphrase_file), **change}
    return ["sign", str(pdf), "-o", str(out), "--certify", *[part for item in options.items() for part in item]]


@pytest.mark.libreoffice
@pytest.mark.parametrize(("change", "expected"), [
    ({"--key": "missing.p12"}, "key file not found"),
    ({"--key": "answers"}, "is not a PKCS#12"),
    ({"--passphrase-file": "answers"}, "wrong passphrase"),
    ({"--key": "expired"}, "expired on"),
    ({"--key": "no-nonrepudiation"}, "allows neither digitalSignature nor nonRepudiation"),
    ({"--field": "no_such_field"}, "has no signature field named 'no_such_field'"),
    ({"--tsa": "notaurl", "--level": "B-T"}, "--tsa notaurl: is not an http:// or https:// URL"),
    ({"pdf": "answers"}, "is not a readable PDF"),
    ({"pdf": "missing.pdf"}, "PDF not found"),
    ({"out": "exists"}, "already exists"),
])
def test_sign_bad_input_is_exit_2(tmp_path: Path, minimal_build: Path, test_pki: Any, change: dict[str, str],
                                  expected: str) -> None:
    from tests.conftest import MINIMAL_ANSWERS, run_cli

    named = {"answers": str(MINIMAL_ANSWERS), "missing.p12": str(tmp_path / "missing.p12"),
             "missing.pdf": str(tmp_path / "missing.pdf"), "expired": str(test_pki.p12("expired")),
             "no-nonrepudiation": str(test_pki.p12("no-nonrepudiation")), "exists": str(MINIMAL_ANSWERS)}
    pdf = Path(named.get(change.pop("pdf", ""), minimal_build / "QA-MIN-1_v1.pdf"))
    out = Path(named.get(change.pop("out", ""), tmp_path / "out.pdf"))
    args = _sign_args(pdf, out, test_pki, **{key: named.get(value, value) for key, value in change.items()})
    result = run_cli(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert expected in result.stderr and result.stderr.count("error:") == 1, result.stderr
    assert "internal error" not in result.stderr


def test_manifest_bad_input_is_exit_2(tmp_path: Path, test_pki: Any) -> None:
    from tests.conftest import MINIMAL_ANSWERS, run_cli

    key = ["--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(test_pki.passphrase_file)]
    record = tmp_path / "X_v1.build.json"
    for content, expected in ((None, "build record not found"), ("{", "is not a readable build record"),
                              ('{"a": 1}', "is not a qa-builder build record")):
        if content is not None:
            record.write_text(content, encoding="utf-8")
        result = run_cli("manifest", str(record), *key)
        assert result.returncode == 2, (result.returncode, result.stderr)
        assert expected in result.stderr, result.stderr
    result = run_cli("manifest", str(MINIMAL_ANSWERS), "--key", str(tmp_path / "none.p12"), "--passphrase-file",
                     str(test_pki.passphrase_file))
    assert result.returncode == 2 and "key file not found" in result.stderr, result.stderr


def _serving(handler: Any) -> Any:
    """Serve `handler` on 127.0.0.1 in a thread; yield the URL of its /tsa path; stop it after."""
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def refusing_server() -> Any:
    """An HTTP server on 127.0.0.1 that answers every POST with 200 and an HTML page (not a timestamp)."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<html>login required</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    yield from _serving(Handler)


@pytest.mark.libreoffice
def test_a_tsa_failure_names_the_url_and_the_reason(tmp_path: Path, minimal_build: Path, test_pki: Any,
                                                    refusing_server: str) -> None:
    from tests.conftest import free_port, run_cli

    closed = f"http://127.0.0.1:{free_port()}/tsa"
    for url, reason in ((closed, "cannot connect (Connection refused)"),
                        (refusing_server, "its answer is not a timestamp"),
                        ("http://no-such-host.invalid/tsa", "its host name is not known")):
        result = run_cli(*_sign_args(minimal_build / "QA-MIN-1_v1.pdf", tmp_path / "out.pdf", test_pki,
                                     **{"--level": "B-T", "--tsa": url}))
        assert result.returncode == 1, result.stderr
        assert f"the timestamp authority {url} gave no timestamp: {reason}" in result.stderr, result.stderr
        assert not (tmp_path / "out.pdf").exists()
    result = run_cli("manifest", str(minimal_build / "QA-MIN-1_v1.build.json"), "--key", str(test_pki.p12("sponsor")),
                     "--passphrase-file", str(test_pki.passphrase_file), "--tsa", closed)
    assert result.returncode == 1 and f"the timestamp authority {closed} gave no timestamp: cannot connect" in \
        result.stderr, result.stderr


# --- text fields of answers are bounded per field, naming the field ------------------------------------------

@pytest.mark.parametrize(("path", "limit"), [
    (("sponsor", "name"), 200), (("contract_acceptor", "quality_contact", "title"), 300),
    (("sponsor", "address"), 1000), (("agreement", "governing_law"), 200),
])
def test_an_overlong_text_is_refused_naming_the_field(tmp_path: Path, path: tuple[str, ...], limit: int) -> None:
    from qa_builder.answers.load import load_answers
    from qa_builder.errors import AnswersError
    from tests.conftest import answers_data, write_answers

    data = answers_data(DEMO_EXAMPLE)
    target = data
    for key in path[:-1]:
        target = target[key]
    from qa_builder.models.text import WORD_LIMIT

    word = "A" * WORD_LIMIT + " "  # the longest word allowed
    target[path[-1]] = word * (limit // len(word)) + "A" * (limit % len(word))
    assert len(target[path[-1]]) == limit
    load_answers(write_answers(tmp_path, data))  # at the limit: accepted
    target[path[-1]] = "A" * 100_000
    with pytest.raises(AnswersError) as info:
        load_answers(write_answers(tmp_path, data))
    message = str(info.value)
    assert f"{'.'.join(path)} is 100,000 characters long; at most {limit:,} fit here; shorten it" in message
    assert len(message.splitlines()) == 1 and len(message) < 300


def test_overlong_list_items_and_keys_are_refused_too(tmp_path: Path) -> None:
    from qa_builder.answers.load import load_answers
    from qa_builder.errors import AnswersError
    from tests.conftest import answers_data, write_answers

    data = answers_data(DEMO_EXAMPLE)
    data["products"][0]["presentations"] = ["ok", "P" * 600]
    with pytest.raises(AnswersError, match=r"products\[?\.?0\]?\.presentations is 600 characters long \(item 2\)"):
        load_answers(write_answers(tmp_path, data))
    data = answers_data(DEMO_EXAMPLE)
    data["contract_acceptor"]["sites"][0]["registration_numbers"] = {"K" * 600: "1"}
    with pytest.raises(AnswersError, match=r"registration_numbers is 600 characters long \(a key\)"):
        load_answers(write_answers(tmp_path, data))



@pytest.mark.parametrize(("path", "count", "limit"), [
    (("signatories",), 2000, 50), (("products",), 1000, 200), (("contract_acceptor", "sites"), 1000, 100),
    (("products", 0, "presentations"), 500, 100),
])
def test_an_overlong_list_is_refused_naming_the_field(tmp_path: Path, path: tuple[Any, ...], count: int,
                                                      limit: int) -> None:
    """2,000 signatories took 150 s to build (one signature field each); every list of answers is bounded."""
    from qa_builder.answers.load import load_answers
    from qa_builder.errors import AnswersError
    from tests.conftest import answers_data, write_answers

    data = answers_data(DEMO_EXAMPLE)
    target = data
    for key in path[:-1]:
        target = target[key]
    import copy

    entries = target[path[-1]]
    target[path[-1]] = [copy.deepcopy(entry) for entry in (entries * count)[:limit]]  # no YAML aliases
    if path[-1] == "signatories":
        for index, entry in enumerate(target[path[-1]]):
            entry["name"] = f"Signatory {index}"
    load_answers(write_answers(tmp_path, data))  # at the limit: accepted
    target[path[-1]] = [copy.deepcopy(entry) for entry in (entries * count)[:count]]
    with pytest.raises(AnswersError) as info:
        load_answers(write_answers(tmp_path, data))
    dotted = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    assert f"{dotted} has {count:,} entries; at most {limit:,} fit an agreement" in str(info.value)

def test_texts_at_their_limits_build_with_typst(tmp_path: Path) -> None:
    """The limits are what the documents can hold: every bounded field at its maximum builds."""
    from tests.conftest import answers_data, run_cli, write_answers

    data = answers_data(DEMO_EXAMPLE)
    from qa_builder.models.text import WORD_LIMIT

    def longest_words(letter: str, limit: int) -> str:  # words as long as allowed, the worst case for a line
        return ((letter * WORD_LIMIT + " ") * (limit // WORD_LIMIT + 1))[:limit].strip()

    data["sponsor"]["name"] = longest_words("N", 200)
    data["sponsor"]["address"] = "Street " * 142
    data["contract_acceptor"]["quality_contact"]["title"] = longest_words("T", 300)
    data["signatories"][0]["name"] = longest_words("S", 200)
    result = run_cli("build", str(write_answers(tmp_path, data)), "-o", str(tmp_path / "out"), "--pdf-engine",
                     "typst", "--format", "pdf")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 1


# --- usage errors quote what was typed escaped and short; --since cannot overflow --------------------------------

def test_audit_log_since_garbage_is_escaped_and_names_the_option(tmp_path: Path) -> None:
    from qa_builder.audit import AuditTrail
    from tests.conftest import run_cli

    AuditTrail(tmp_path).append("verify")
    garbage = "x\x1b[2J\u202eforged\nerror: " + "A" * 5000
    result = run_cli("audit", "log", str(tmp_path), "--since", garbage)
    assert result.returncode == 2
    assert "Invalid value for '--since': 'x\\u001b[2J\\u202eforged\\u000aerror: AAA" in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr and len(result.stderr) < 600
    for overflow in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        result = run_cli("audit", "log", str(tmp_path), "--since", overflow)
        assert result.returncode == 2 and "--since" in result.stderr and "is outside 1900-9998" in result.stderr
    assert run_cli("audit", "log", str(tmp_path), "--since", "2020-01-01T00:00:00+05:00").returncode == 0


@pytest.mark.parametrize("args", [
    ["verify", "x.pdf", "--at", "x\x1b[2J\u202e" + "A" * 5000],
    ["sign", "x.pdf", "--meaning", "x\x1b[2J\u202e" + "A" * 5000],
    ["verify", "x.pdf", "--trust", "x\x1b[2J\u202e" + "A" * 5000],
    ["bu\x1b[2Jild\u202e" + "A" * 5000],
])
def test_every_usage_error_escapes_and_shortens_what_was_typed(args: list[str]) -> None:
    result = _cli(*args, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr, result.stderr
    assert len(result.stderr) < 800 and "Traceback" not in result.stderr


# --- a damaged newest event: one line, no pydantic text, no unrecorded export ------------------------------------

@pytest.mark.parametrize(("seq", "digest"), [(3, "x\x1b[2J"), (3, "A" * 64), (3, "0" * 63)])
def test_audit_export_after_a_malformed_newest_event_is_one_line(tmp_path: Path, seq: Any, digest: str) -> None:
    import sqlite3

    from qa_builder.audit import AuditTrail
    from tests.conftest import run_cli

    trail = AuditTrail(tmp_path)
    trail.append("verify")
    trail.append("verify")
    with sqlite3.connect(trail.path) as conn:
        conn.execute("INSERT INTO events (seq, hash, event) VALUES (?, ?, ?)", (seq, digest, "{}"))
    out = tmp_path / "export.csv"
    result = run_cli("audit", "export", str(tmp_path), "--format", "csv", "-o", str(out))
    assert result.returncode == 3, result.stderr
    assert "the newest event's sequence number or hash is malformed" in result.stderr, result.stderr
    assert "String should match" not in result.stderr and "internal error" not in result.stderr
    assert "\x1b" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert not out.exists()


# --- a template cannot carry field codes that act on the reader's computer (DDE, INCLUDETEXT, …) --------------

def _template_with(tmp_path: Path, body_xml: str) -> Path:
    import zipfile

    source = ROOT / "templates" / "quality_agreement.docx"
    target = tmp_path / "evil.docx"
    with zipfile.ZipFile(source) as package, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in package.infolist():
            data = package.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + body_xml.encode(), 1)
            out.writestr(info.filename, data)
    return target


def _field_runs(*instructions: str) -> str:
    runs = "".join(f'<w:r><w:instrText xml:space="preserve">{part}</w:instrText></w:r>' for part in instructions)
    return (f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>{runs}<w:r><w:fldChar w:fldCharType="separate"/>'
            '</w:r><w:r><w:t>x</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')


@pytest.mark.parametrize(("body", "code"), [
    (_field_runs(' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe" '), "DDEAUTO"),
    (_field_runs(" DD", "EAUTO cmd ", '"/k calc"'), "DDEAUTO"),  # Word joins the runs into one instruction
    (_field_runs(' INCLUDEPICTURE "http://127.0.0.1:9/track.png" \\d '), "INCLUDEPICTURE"),
    (_field_runs(' includetext "/etc/passwd" '), "INCLUDETEXT"),
    ('<w:p><w:fldSimple w:instr=" LINK Excel.Sheet.8 &quot;C:\\\\x.xls&quot; "><w:r><w:t>x</w:t></w:r></w:fldSimple>'
     '</w:p>', "LINK"),
])
def test_a_template_with_an_acting_field_code_is_refused(tmp_path: Path, body: str, code: str) -> None:
    from qa_builder.errors import TemplateError
    from qa_builder.render.docx import load_template

    template = _template_with(tmp_path, body)
    with pytest.raises(TemplateError) as info:
        load_template(template)
    assert f"part word/document.xml holds the field {code}, which would act on the reader's computer" in \
        str(info.value)


def test_page_numbers_and_references_stay_allowed(tmp_path: Path) -> None:
    from qa_builder.render.docx import load_template

    load_template(_template_with(tmp_path, _field_runs(" PAGE ") + _field_runs(' REF _Ref1 \\h ')))
    load_template(ROOT / "templates" / "quality_agreement.docx")


def test_a_passphrase_file_saved_with_a_byte_order_mark_and_crlf_gives_the_passphrase(tmp_path: Path) -> None:
    """Windows Notepad writes a UTF-8 BOM and CRLF; the passphrase is the first line without them."""
    from qa_builder.cli.options import read_secret

    path = tmp_path / "pass.txt"
    path.write_bytes(b"\xef\xbb\xbfs3cr\xc3\xa9t\r\nignored\r\n")
    assert read_secret(path, "passphrase") == "s3crét".encode()


# --- output folders: a symlinked output name or an unwritable folder is one line, never an internal error ------

def _build_docx(out: Path, *extra: str) -> Any:
    from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, run_cli

    return run_cli("build", str(MINIMAL_ANSWERS), "--library", str(MINI_LIBRARY), "--format", "docx", "-o", str(out),
                   *extra)


def test_an_output_name_that_is_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "QA-MIN-1_v1.docx").symlink_to(victim)
    for extra in ((), ("--force",)):
        result = _build_docx(out, *extra)
        assert result.returncode == 2, result.stderr
        assert "QA-MIN-1_v1.docx: is a symbolic link leading out of" in result.stderr, result.stderr
        assert "internal error" not in result.stderr
    assert victim.read_text(encoding="utf-8") == "keep me"


def test_an_output_folder_where_no_file_can_be_made_is_one_line() -> None:
    result = _build_docx(Path("/proc/self"))
    assert result.returncode == 1, result.stderr
    assert "/proc/self: cannot be written" in result.stderr and "internal error" not in result.stderr


def test_negotiate_import_refuses_a_fifo_or_a_device_at_once(tmp_path: Path, fifo: Path) -> None:
    """/dev/zero has size 0 to stat(), so a size check let it be read: 4.4 GB of memory before the fix."""
    code = ("import sys; from pathlib import Path; from qa_builder.negotiation.returned import read_returned\n"
            "try:\n    read_returned(Path(sys.argv[1]))\nexcept Exception as exc:\n    print(type(exc).__name__, exc)")
    for path in (fifo, Path("/dev/zero")):
        result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT,
                                timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.stdout.strip() == f"ReturnedFileError {path}: cannot be read (not a regular file)", result


def test_verify_names_a_fifo_or_device_unreadable_at_once(fifo: Path) -> None:
    """A FIFO waited out the whole --timeout and /dev/zero filled the --memory cap before a result."""
    manifest_fifo = fifo.parent / "x.manifest.json"
    os.mkfifo(manifest_fifo)
    result = _cli("verify", str(fifo), "/dev/zero", str(manifest_fifo), "--timeout", "20", "--json", timeout=60)
    import json

    reports = json.loads(result.stdout)["results"]
    assert [r["error"] for r in reports] == ["cannot be read: not a regular file (a pipe or a device)"] * 3, reports
    assert result.returncode == 3


# --- a hostile PDF given to `sign` (which, unlike verify, runs in-process) is one line, exit 2 --------------------

def _pdf(*objects: bytes) -> bytes:
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


@pytest.mark.parametrize(("objects", "expected"), [
    ((b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>", b"<< /Type /Pages /Kids [] /Count 0 >>",
      b"<< /T (a) /Kids [9 0 R] >>"), "its form fields cannot be read"),
    ((b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 100000 + b"]" * 100000 + b" >>",
      b"<< /Type /Pages /Kids [] /Count 0 >>"), "cannot be read"),
    ((b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>", b"<< /Type /Pages /Kids [] /Count 0 >>",
      b"<< /T (a) /Kids [3 0 R] >>"), "its form fields cannot be read"),
])
def test_listing_the_fields_of_a_hostile_pdf_is_one_line(tmp_path: Path, objects: tuple[bytes, ...],
                                                         expected: str) -> None:
    from tests.conftest import run_cli

    path = tmp_path / "hostile.pdf"
    path.write_bytes(_pdf(*objects))
    result = run_cli("sign", str(path))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "internal error" not in result.stderr, result.stderr


# --- the audit trail's file: a folder or link with its name is an error, never "no events" or a write elsewhere ---

def test_a_trail_that_is_a_folder_is_an_error_not_an_empty_trail(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    (tmp_path / "audit" / "trail.sqlite3").mkdir(parents=True)
    for command in (("audit", "log", str(tmp_path)), ("audit", "verify", str(tmp_path))):
        result = run_cli(*command)
        assert result.returncode == 3, result.stdout + result.stderr
        assert "trail.sqlite3: is not a database file" in result.stderr


@pytest.mark.parametrize("link", ["trail.sqlite3", "trail.sqlite3-wal", "folder"])
def test_the_trail_is_never_written_through_a_link(tmp_path: Path, link: str) -> None:
    """A workspace shared through git can carry symbolic links; sqlite would create the database at their target."""
    from qa_builder.audit import AuditTrail
    from qa_builder.errors import AuditError

    workspace, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    workspace.mkdir()
    elsewhere.mkdir()
    if link == "folder":
        (workspace / "audit").symlink_to(elsewhere)
    else:
        (workspace / "audit").mkdir()
        (workspace / "audit" / link).symlink_to(elsewhere / link)
    with pytest.raises(AuditError, match="is a symbolic link or leads out of the workspace"):
        AuditTrail(workspace).append("verify")
    assert list(elsewhere.iterdir()) == []


def test_an_output_made_meanwhile_by_another_run_is_kept(tmp_path: Path) -> None:
    """`sign` and `manifest` check that their output does not exist, then work for seconds; a second run that
    wrote the same name meanwhile must not be silently replaced."""
    from qa_builder.errors import OutputExistsError
    from qa_builder.files import atomic_writer

    target = tmp_path / "signed.pdf"
    with pytest.raises(OutputExistsError, match="another run wrote it meanwhile"), \
            atomic_writer(target, replace=False) as handle:
        handle.write(b"mine")
        target.write_bytes(b"the other run's")  # what a concurrent run does while this one is signing
    assert target.read_bytes() == b"the other run's"
    assert [p.name for p in tmp_path.iterdir()] == ["signed.pdf"]  # no temp file left
    with atomic_writer(target, replace=True) as handle:
        handle.write(b"forced")
    assert target.read_bytes() == b"forced"


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2067", "\u2069"])
def test_a_bidirectional_override_in_answers_is_refused(tmp_path: Path, char: str) -> None:
    """A right-to-left override in a party name makes the printed agreement show another text than it holds."""
    from qa_builder.answers.load import load_answers
    from qa_builder.errors import AnswersError
    from tests.conftest import answers_data, write_answers

    data = answers_data(DEMO_EXAMPLE)
    data["sponsor"]["name"] = f"ACME {char}0001 Ltd"
    with pytest.raises(AnswersError, match=f"sponsor.name contains the bidirectional control U\\+{ord(char):04X} at "
                                           "character 6"):
        load_answers(write_answers(tmp_path, data))
    data["sponsor"]["name"] = "\u05e9\u05dc\u05d5\u05dd Pharma \u200f"  # Hebrew with a right-to-left mark: fine
    load_answers(write_answers(tmp_path, data))


@pytest.mark.parametrize("args", [["schema"], ["check", str(DEMO_EXAMPLE)]])
def test_output_that_cannot_be_written_is_one_line(args: list[str]) -> None:
    """`qa-builder schema > /dev/full` (a full disk under a redirect) said "internal error: OSError"."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "qa_builder", *args], stdout=full, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the output could not be written (No space left on device)", result.stderr


def test_each_signature_in_one_process_takes_its_own_time() -> None:
    """The signing time was memoised per timestamper (lru_cache left on _signing_time when the TSA client moved
    to its own module): every later signature of a process, e.g. in `qa-builder serve`, got the first one's time."""
    import time

    from qa_builder.signing.pades import _signing_time

    first, _ = _signing_time(None)
    time.sleep(1.1)
    second, _ = _signing_time(None)
    assert second > first


def _damaged_docx(source: Path, target: Path, how: str) -> Path:
    """`source` with its parts marked encrypted, or with the deflated data of word/document.xml corrupted."""
    data = bytearray(source.read_bytes())
    if how == "encrypted":  # general-purpose flag bit 0, in every local and central header
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = data.find(signature)
            while start >= 0:
                data[start + offset] |= 1
                start = data.find(signature, start + 4)
    else:
        import zipfile
        with zipfile.ZipFile(source) as package:
            info = package.getinfo("word/document.xml")
        body = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for index in range(body + 40, body + 200, 7):
            data[index] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("how", ["encrypted", "corrupted"])
def test_a_docx_whose_parts_cannot_be_inflated_is_one_line(tmp_path: Path, how: str) -> None:
    """Session 5 attack: an encrypted zip part (RuntimeError) or damaged deflate data (zlib.error) in a returned
    DOCX or a template was "internal error", exit 1."""
    from qa_builder.errors import TemplateError
    from qa_builder.negotiation.returned import ReturnedFileError, read_returned
    from qa_builder.render.docx import default_template_path, load_template

    damaged = _damaged_docx(default_template_path(), tmp_path / f"{how}.docx", how)
    with pytest.raises(ReturnedFileError, match=rf"{how}\.docx: is not a readable DOCX"):
        read_returned(damaged)
    with pytest.raises(TemplateError, match=rf"{how}\.docx: is not a readable DOCX template"):
        load_template(damaged)



@pytest.mark.parametrize("linked", ["agreements/QA-MIN-1", "agreements", "agreements/QA-MIN-1/negotiation",
                                    "regenerations"])
def test_a_workspace_never_writes_through_a_symbolic_link(tmp_path: Path, linked: str) -> None:
    """Session 5 attack: with agreements/<ID> (or `agreements`, `negotiation`, `regenerations`) a link out of the
    workspace, as a workspace shared through git may hold, `add` wrote the answers file, `build --workspace` the
    version folder, `negotiate import` its report and `regenerate` its lock outside the workspace."""
    import shutil

    import qa_builder as qa
    from qa_builder.errors import InputError
    from tests.conftest import MINIMAL_ANSWERS

    workspace = qa.init_workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = workspace.root / linked
    if target.is_dir():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, target)
    with pytest.raises(InputError, match=rf"{linked}: is a symbolic link"):
        if linked == "regenerations":
            qa.regenerate_workspace(workspace)
        elif linked == "agreements/QA-MIN-1/negotiation":
            workspace.agreement_dir("QA-MIN-1")  # where every read and write of the agreement starts
        else:
            qa.add_agreement(workspace, MINIMAL_ANSWERS)
    assert list(outside.iterdir()) == []



def test_an_output_where_no_file_can_be_made_is_one_line_for_every_command(minimal_build: Path,
                                                                           test_pki: Any) -> None:
    """Session 5 attack: `build -o /proc/self` was one line, but `init /proc/self/ws`, `sign -o /proc/self/x.pdf`
    and `negotiate log -o /proc/self/x.docx` were "internal error: FileNotFoundError" (a hidden staging name)."""
    sign = ["sign", str(minimal_build / "QA-MIN-1_v1.pdf"), "-o", "/proc/self/x.pdf", "--field", "sig_sponsor_1",
            "--meaning", "approval", "--key", str(test_pki.p12("sponsor")), "--passphrase-file",
            str(test_pki.passphrase_file)]
    for args in (["init", "/proc/self/ws"], sign):
        line = _one_line(_cli(*args), code=1)
        assert line == "error: /proc/self: no file can be made there (No such file or directory)", line


@pytest.mark.parametrize(("artefacts", "expected"), [
    ([("../../../../etc/passwd", "a" * 64)], "artefacts.0.file: Value error, '../../../../etc/passwd' is not a plain"),
    ([("QA-MIN-1_v1.pdf", "a" * 64)] * 3, "artefacts: Value error, lists 'QA-MIN-1_v1.pdf' more than once"),
])
def test_a_manifest_of_another_shape_names_the_field(tmp_path: Path, artefacts: list[tuple[str, str]],
                                                      expected: str) -> None:
    """Session 5 attack: verify said only "is not a qa-builder manifest (1 validation error for Manifest)", and a
    manifest listing one file 20,000 times was hashed 20,000 times (67 s) and PASSED as "60000 listed files"."""
    import json

    import qa_builder as qa

    manifest = {"manifest_format": 1, "tool": "qa-builder", "tool_version": "1", "agreement_id": "QA-MIN-1",
                "agreement_version": 1, "answers_sha256": "a" * 64,
                "library": {"name": "x", "version": "1", "clauses": []}, "template_sha256": "a" * 64,
                "model_digest": "a" * 64, "signatures": [], "created_at": "2026-11-29T00:00:00Z",
                "artefacts": [{"file": name, "role": "pdf", "media_type": "application/pdf", "sha256": digest,
                               "size": 1} for name, digest in artefacts]}
    path = tmp_path / "QA-MIN-1_v1.manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    result = qa.verify_files([path], qa.VerifySettings()).results[0]
    assert result.indication == "TOTAL-FAILED"
    assert result.error is not None and result.error.startswith(f"is not a qa-builder manifest ({expected}"), result


@pytest.mark.parametrize(("text", "expected"), [
    ('{"agreement_id": "QA-MIN-1", "agreement_id": "QA-EVIL-1"}', "has the key 'agreement_id' twice in one object"),
    ("[" * 100_000 + "]" * 100_000, "it nests too deeply"),
])
def test_an_ambiguous_or_deeply_nested_manifest_is_a_format_failure(tmp_path: Path, text: str, expected: str) -> None:
    """Session 6 attack: a manifest holding a key twice was read with the last one winning (other JSON readers take
    the first: one signed manifest could name different files to different verifiers), and 100,000 nested brackets
    were "INDETERMINATE: The file could not be verified (RecursionError: …)"."""
    import qa_builder as qa

    path = tmp_path / "QA-MIN-1_v1.manifest.json"
    path.write_text(text, encoding="utf-8")
    result = qa.verify_files([path], qa.VerifySettings()).results[0]
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE"), result
    assert result.error == f"is not a qa-builder manifest ({expected})", result


@pytest.mark.parametrize(("line", "field"), [("    version: 2", "version"), ("    order: 10", "order")])
def test_a_clause_number_the_build_record_cannot_hold_is_refused_by_library_check(tmp_path: Path, line: str,
                                                                                  field: str) -> None:
    """Session 5 attack: `version: 99999999999999999999999` passed `library check` ("valid"), then every build
    failed with "internal error: ValidationError: 1 validation error for ClauseUse" over four lines."""
    import shutil

    from qa_builder.errors import LibraryError
    from qa_builder.library.loader import load_library
    from tests.conftest import MINI_LIBRARY

    library = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, library)
    clauses = library / "clauses" / "general.yaml"
    text = clauses.read_text(encoding="utf-8")
    assert line in text
    clauses.write_text(text.replace(line, line.split(":")[0] + ": 99999999999999999999999", 1), encoding="utf-8")
    with pytest.raises(LibraryError, match=rf"general\.yaml line \d+: clause '\w+': clauses\[0\]\.{field} should be "
                                           r"less than or equal to 9007199254740991"):
        load_library(library)


@pytest.mark.parametrize("name", ["Eve \u202eyrraM", "Eve\u001b[2J", "Eve\nerror: fake line", "Eve \u202dx"])
def test_a_certificate_name_that_would_print_otherwise_is_refused_for_signing(tmp_path: Path, test_pki: Any,
                                                                              name: str) -> None:
    """Session 5 attack: a certificate named "Eve \\u202eyrraM" signed, and the stamp's bidi layout printed
    "Signed by: Eve Marry" into the signed record (control characters became spaces, overrides were obeyed)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    import qa_builder as qa
    from qa_builder.errors import SigningInputError

    passphrase = test_pki.passphrase()
    ca_key, ca_cert, _ = pkcs12.load_key_and_certificates(test_pki.p12("intermediate-ca").read_bytes(), passphrase)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
                   .sign(ca_key, hashes.SHA256()))
    path = tmp_path / "evil.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"evil", key, certificate, [ca_cert],
                                                           serialization.BestAvailableEncryption(passphrase)))
    with pytest.raises(SigningInputError, match=r"evil\.p12: the certificate's name \(.*\) holds U\+[0-9A-F]{4}, a "
                                                 r"control, line-break or bidirectional override character"):
        qa.load_pkcs12_key(path, passphrase)


def test_a_file_name_with_a_line_break_or_bidi_override_forges_no_line(tmp_path: Path) -> None:
    """Session 5 attack: answers named "ev\\u202eil\\nerror: x.yaml" made `check` print a second, forged line
    "error: error: x.yaml line 27: …", and `audit log` printed the U+202E of an `add` event's file name raw.
    Session 6: such a name is refused, named escaped (a good file of that name printed "ev…il" and a forged
    "error: x.yaml: no findings")."""
    import qa_builder as qa
    from qa_builder.audit.store import AuditTrail
    from tests.conftest import MINIMAL_ANSWERS

    name = tmp_path / "ev\u202eil\nerror: x.yaml"
    name.write_text(MINIMAL_ANSWERS.read_text(encoding="utf-8").replace("agreement:", "agreement:\n  colour: red", 1),
                    encoding="utf-8")
    line = _one_line(_cli("check", str(name)))
    assert "\\u202eil\\u000aerror: x.yaml: its file name holds U+202E" in line, line
    workspace = qa.init_workspace(tmp_path / "ws")
    AuditTrail(workspace.root).append("add", agreement_id="QA-MIN-1", details={"added_from": name.name})
    log = _cli("audit", "log", str(workspace.root))
    assert log.returncode == 0, log.stderr
    added = [row for row in log.stdout.splitlines() if " add " in row]
    assert len(added) == 1 and 'added_from="ev\\u202eil\\nerror: x.yaml"' in added[0], log.stdout
    assert "\u202e" not in log.stdout


@pytest.mark.parametrize("name", ["ok\nerror: forged.yaml", "tab\there.yaml", "x\u2028y.yaml", "inv\ufeff.yaml",
                                  "caf\udce9.yaml"])
def test_answers_whose_file_name_would_not_print_as_itself_are_named_escaped(tmp_path: Path, name: str) -> None:
    """Session 6 attack: a shared folder holding a good answers file named "ok\\nerror: forged.yaml" made
    `check FOLDER` print "ok" and a forged "error: forged.yaml: no findings" line, exit 0; a file name that is not
    UTF-8 ended `check` in "internal error: ValidationError … FileFindings"."""
    import shutil

    from tests.conftest import MINIMAL_ANSWERS

    folder = tmp_path / "answers"
    folder.mkdir()
    shutil.copyfile(MINIMAL_ANSWERS, folder / "good.yaml")
    shutil.copyfile(MINIMAL_ANSWERS, os.fsencode(folder) + b"/" + name.encode("utf-8", "surrogateescape"))
    for command in ("check", "build"):
        extra = ["-o", str(tmp_path / "out")] if command == "build" else []
        result = _cli(command, str(folder), *extra, timeout=300)
        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "its file name" in errors[0] and "rename the file" in errors[0], result
        assert "forged" not in result.stdout
    assert "good.yaml: no findings" in _cli("check", str(folder)).stdout


def test_an_agreement_of_more_paragraphs_than_any_quality_agreement_is_refused(tmp_path: Path) -> None:
    """Session 5 attack: one clause text of a million characters made 250,000 paragraphs; the build took 80 s and
    900 MB and made an agreement that `negotiate import` refuses (over 20,000 paragraphs)."""
    import shutil

    from qa_builder.answers.load import load_answers
    from qa_builder.errors import LibraryError
    from qa_builder.library.assemble import assemble_agreement
    from qa_builder.library.loader import load_library
    from qa_builder.library.select import select_clauses
    from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS

    library_dir = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, library_dir)
    (library_dir / "clauses" / "zz_long.yaml").write_text(
        "clauses:\n  - id: zz_long\n    title: Long\n    section: general\n    order: 999\n    version: 1\n"
        "    status: approved\n    effective_date: 2026-01-01\n    applies_when: 'true'\n    references: []\n"
        "    text: '{{ \"x.\\n\\n\" * 20000 }}'\n", encoding="utf-8")
    library = load_library(library_dir)
    answers = load_answers(MINIMAL_ANSWERS).answers
    with pytest.raises(LibraryError, match=r"zz_long\.yaml line 2: clause 'zz_long' text renders 20,000 paragraphs, "
                                           r"which brings the agreement's clauses past 10,000 paragraphs"):
        assemble_agreement(answers, library, select_clauses(library, answers))


def test_an_agreement_of_more_characters_than_any_quality_agreement_is_refused(tmp_path: Path) -> None:
    """Session 6 attack: each clause text is bounded (1,000,000 characters) but not their sum: five clauses of
    945,000 characters in one paragraph each made a 76 s, 1.3 GB build (the whole library's: some 13 GB)."""
    import shutil

    from qa_builder.answers.load import load_answers
    from qa_builder.errors import LibraryError
    from qa_builder.library.assemble import assemble_agreement
    from qa_builder.library.loader import load_library
    from qa_builder.library.select import select_clauses
    from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS

    library_dir = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, library_dir)
    lines = ["clauses:"]
    for index in range(3):
        lines += [f"  - id: zz_big_{index}", "    title: Big", "    section: general", f"    order: {990 + index}",
                  "    version: 1", "    status: approved", "    effective_date: 2026-01-01",
                  "    applies_when: 'true'",
                  "    references: []", "    text: '{{ \"Lorem ipsum dolor sit amet \" * 35000 }}'"]
    (library_dir / "clauses" / "zz_big.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    library = load_library(library_dir)
    answers = load_answers(MINIMAL_ANSWERS).answers
    with pytest.raises(LibraryError, match=r"zz_big\.yaml line \d+: clause 'zz_big_1' text brings the agreement's "
                                           r"clauses past 1,000,000 characters"):
        assemble_agreement(answers, library, select_clauses(library, answers))


@pytest.mark.parametrize("keep", [None, True])
def test_a_decider_name_longer_than_a_decision_holds_is_one_line(tmp_path: Path, keep: bool | None) -> None:
    """Session 5 attack: `negotiate accept … --by <5,000 characters>` was "internal error: ValidationError: 1
    validation error for Decision" (the decision keeps at most 500 characters of --by; only 100,000 were checked)."""
    import qa_builder as qa
    from qa_builder.errors import InputError
    from qa_builder.negotiation.decide import decide, resolve_override
    from tests.conftest import MINIMAL_ANSWERS

    workspace = qa.init_workspace(tmp_path / "ws")
    qa.add_agreement(workspace, MINIMAL_ANSWERS)
    with pytest.raises(InputError, match=r"^--by is 5,000 characters long; at most 500 are kept: shorten it$"):
        if keep is None:
            decide(workspace, "QA-MIN-1", "scope", "accept", by="E" * 5000, reason="r")
        else:
            resolve_override(workspace, "QA-MIN-1", "scope", keep=keep, by="E" * 5000, reason="r")


def test_a_refused_answer_value_is_quoted_cut_not_whole(tmp_path: Path) -> None:
    """Session 5 attack: `negotiate counter --answer sponsor.name=<10,000 characters>` echoed the whole value in its
    one-line error (10,165 characters)."""
    import shutil

    from qa_builder.errors import AnswersError
    from qa_builder.negotiation.answers_edit import set_answer
    from tests.conftest import MINIMAL_ANSWERS

    path = tmp_path / "answers.yaml"
    shutil.copyfile(MINIMAL_ANSWERS, path)
    with pytest.raises(AnswersError) as info:
        set_answer(path, ["sponsor", "name"], "N" * 10_000)
    message = str(info.value)
    assert "sponsor.name = " + "N" * 80 + "… is not allowed (is 10,000 characters long" in message, message
    assert len(message) < 400
    assert path.read_bytes() == MINIMAL_ANSWERS.read_bytes()


def test_a_folder_of_answers_names_each_entry_it_cannot_read(tmp_path: Path) -> None:
    """Session 5 attack: `check FOLDER` and `build FOLDER` skipped a pipe or a broken link named *.yaml in silence,
    and said "no findings", exit 0, for the rest."""
    import shutil

    from tests.conftest import MINIMAL_ANSWERS

    folder = tmp_path / "answers"
    folder.mkdir()
    shutil.copyfile(MINIMAL_ANSWERS, folder / "b.yaml")
    os.mkfifo(folder / "a.yaml")
    os.symlink(tmp_path / "moved.yaml", folder / "c.yaml")
    result = _cli("check", str(folder))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {folder / 'a.yaml'}: is not a regular file",
                      f"error: {folder / 'c.yaml'}: answers file not found"], result.stderr
    assert f"{folder / 'b.yaml'}: no findings" in result.stdout


def test_json_output_carries_no_raw_bidi_or_line_separator_characters(tmp_path: Path) -> None:
    """`--json` output is printed on terminals too: a bidi override or line separator from a file name or a file's
    text is written as a JSON escape, and the JSON still reads back to the same text (session-5 attack round)."""
    import json
    import shutil

    from qa_builder.printable import printable_json
    from tests.conftest import run_cli

    data = {"name": "Eve \u202eyrraM", "sep": "a\u2028b", "tag": "x\U000e0001y", "lines": "one\ntwo"}
    text = printable_json(json.dumps(data, indent=2, ensure_ascii=False))
    assert json.loads(text) == data
    assert not any(c in text for c in "\u202e\u2028\U000e0001")
    named = tmp_path / "answers\u202eqa.yaml"
    shutil.copy(DEMO_EXAMPLE, named)
    checked = run_cli("check", "--json", str(named))
    assert "\u202e" not in checked.stdout and json.loads(checked.stdout)


def _with_many_fields(pdf: bytes, count: int) -> bytes:
    """`pdf` with an incremental update whose catalog's form lists `count` empty signature fields."""
    import re

    size = max(int(x) for x in re.findall(rb"/Size (\d+)", pdf))
    root = int(re.findall(rb"/Root (\d+) \d+ R", pdf)[-1])
    catalog = list(re.finditer(rb"\n%d 0 obj\s*(<<.*?>>)\s*endobj" % root, pdf, re.S))[-1].group(1)
    catalog = re.sub(rb"/AcroForm\s*(\d+ 0 R|<<.*?>>)", b"", catalog)[:-2] + b" /AcroForm %d 0 R >>" % size
    objects = {root: catalog, size: b"<< /Fields [" + b" ".join(b"%d 0 R" % (size + 1 + i) for i in range(count))
               + b"] >>"}
    objects.update({size + 1 + i: b"<< /FT /Sig /T (f%d) >>" % i for i in range(count)})
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n" + b"".join(b"%d 1\n%010d 00000 n \n" % (n, offsets[n]) for n in sorted(offsets))
    previous = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    out += (b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (max(offsets) + 1, root, previous, xref))
    return bytes(out)


def test_a_pdf_of_more_form_fields_than_an_agreement_has_is_refused_at_once(tmp_path: Path, minimal_build: Path,
                                                                            test_pki: Any) -> None:
    """Session 6 attack: `sign` listed (and would search) a received PDF's 200,000 signature fields: 62 s and
    670 MB for a 17 MB file, a PDF of up to 1 GiB being allowed."""
    import time

    import qa_builder as qa
    from qa_builder.errors import SigningInputError

    pdf = tmp_path / "many.pdf"
    pdf.write_bytes(_with_many_fields((minimal_build / "QA-MIN-1_v1.pdf").read_bytes(), 2_500))
    started = time.monotonic()
    with pytest.raises(SigningInputError, match="holds more than 2,000 form fields"):
        qa.list_signature_fields(pdf)
    assert time.monotonic() - started < 10
    key = qa.load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    with pytest.raises(SigningInputError, match="holds more than 2,000 form fields"):
        qa.sign_pdf(pdf, tmp_path / "out.pdf", qa.SignatureRequest(field="f1", meaning="approval"), key)
    assert not (tmp_path / "out.pdf").exists()
    fewer = tmp_path / "fewer.pdf"
    fewer.write_bytes(_with_many_fields((minimal_build / "QA-MIN-1_v1.pdf").read_bytes(), 20))
    assert len(qa.list_signature_fields(fewer)) == 20


@pytest.mark.parametrize("content", ["[1]", "size:700M"])
def test_a_damaged_or_huge_pending_regeneration_file_starts_a_new_run(tmp_path: Path, content: str) -> None:
    """Session 6 attack: regenerations/pending.json (a file anyone editing a shared workspace may leave) was read
    whole and trusted: '[1]' was "internal error: TypeError", a 700 MB one took 1.5 GB (MemoryError under a
    1.2 GB limit)."""
    import resource

    import qa_builder as qa
    from tests.conftest import MINIMAL_ANSWERS

    workspace = qa.init_workspace(tmp_path / "ws")
    qa.add_agreement(workspace, MINIMAL_ANSWERS)
    pending = workspace.root / "regenerations" / "pending.json"
    if content.startswith("size:"):
        with pending.open("wb") as handle:
            handle.truncate(700 * 1024 * 1024)  # sparse: no disk used
    else:
        pending.write_text(content, encoding="utf-8")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1200 * 1024 * 1024, 1200 * 1024 * 1024))

    result = subprocess.run([sys.executable, "-m", "qa_builder", "regenerate", str(workspace.root), "--dry-run"],
                            capture_output=True, text=True, timeout=300, preexec_fn=limit_memory,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr and "to regenerate" in result.stdout + result.stderr


@pytest.mark.parametrize("setting", ["template", "library"])
def test_a_workspace_library_or_template_linking_out_of_it_is_refused(tmp_path: Path, setting: str) -> None:
    """Session 6 attack: a shared workspace whose template was templates/evil.docx, a symbolic link to a private
    DOCX elsewhere (or whose clause_library linked out), built every agreement from that file: its content went into
    the workspace's agreements. Settings naming a path outside were refused; a link leading outside was not."""
    import shutil

    import qa_builder as qa
    from qa_builder.errors import InputError

    workspace = qa.init_workspace(tmp_path / "ws").root
    outside = tmp_path / "outside"
    if setting == "template":
        outside.mkdir()
        shutil.copyfile(workspace / "templates" / "quality_agreement.docx", outside / "private.docx")
        (workspace / "templates" / "evil.docx").symlink_to(outside / "private.docx")
        settings = (workspace / "qa-builder.yaml").read_text(encoding="utf-8")
        (workspace / "qa-builder.yaml").write_text(
            settings.replace("templates/quality_agreement.docx", "templates/evil.docx"), encoding="utf-8")
    else:
        shutil.move(workspace / "clause_library", outside)
        (workspace / "clause_library").symlink_to(outside)
    with pytest.raises(InputError, match=f"{setting} '[^']+' leads out of the workspace through a symbolic link"):
        qa.open_workspace(workspace)


def test_nothing_is_signed_or_added_when_the_trail_cannot_record_it(tmp_path: Path, minimal_build: Path,
                                                                     test_pki: Any) -> None:
    """Attack round 8: with audit/trail.sqlite3 not a database, `sign` wrote the signed PDF, `manifest` its files and
    `add` the answers, each then said "the audit trail cannot be used" (exit 3), and a rerun said "already exists".
    The trail is checked first: exit 3, one line, nothing written."""
    import shutil

    import qa_builder as qa
    from tests.conftest import EXAMPLES, run_cli

    workspace = qa.init_workspace(tmp_path / "ws").root
    version = workspace / "agreements" / "QA-MIN-1" / "v1"
    version.mkdir(parents=True)
    for name in ("QA-MIN-1_v1.pdf", "QA-MIN-1_v1.docx", "QA-MIN-1_v1.build.json"):
        shutil.copy2(minimal_build / name, version / name)
    (workspace / "audit" / "trail.sqlite3").write_bytes(b"this is not a database" * 100)
    before = sorted(str(p) for p in workspace.rglob("*"))
    key = ["--key", str(test_pki.p12("sponsor")), "--passphrase-file", str(test_pki.passphrase_file)]
    for command in (_sign_args(version / "QA-MIN-1_v1.pdf", version / "QA-MIN-1_v1.signed.pdf", test_pki),
                    ["manifest", str(version / "QA-MIN-1_v1.build.json"), *key],
                    ["add", str(workspace), str(EXAMPLES / "us-api-cmo.yaml")]):
        result = run_cli(*command)
        assert result.returncode == 3, (command[0], result.stderr)
        assert result.stderr.count("\n") == 1 and "trail.sqlite3: the audit trail cannot be used" in result.stderr
        assert sorted(str(p) for p in workspace.rglob("*")) == before, command[0]


def test_a_field_text_of_megabytes_is_cut_when_listed(tmp_path: Path, minimal_build: Path) -> None:
    """Attack round 8: `sign PDF` printed a received PDF's 2,000,000-character field tooltip (/TU) as one line."""
    from pyhanko.pdf_utils.generic import pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from tests.conftest import run_cli

    with (minimal_build / "QA-MIN-1_v1.pdf").open("rb") as source:
        writer = IncrementalPdfFileWriter(source)
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            field["/TU"] = pdf_string("to be signed by " + "x" * 200_000)
            writer.update_container(field)
        hostile = tmp_path / "huge-tooltip.pdf"
        with hostile.open("wb") as out:
            writer.write(out)
    result = run_cli("sign", str(hostile))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(len(line) < 500 for line in lines), max(map(len, lines))
    assert all("to be signed by xxx" in line and line.endswith("…") for line in lines)


@pytest.mark.parametrize("suffix", [".agreement.json", ".build.json"])
def test_a_version_record_that_is_a_link_is_never_read_through(tmp_path: Path, suffix: str) -> None:
    """Attack round 9: a version's agreement model replaced by a link to /etc/passwd was read through the link by
    `impact` (it then failed as invalid JSON); a record that is a link is refused as one, whatever it points to."""
    import qa_builder as qa
    from qa_builder.builds.pipeline import output_stem
    from qa_builder.errors import InputError

    workspace = qa.init_workspace(tmp_path / "ws")
    version = workspace.version_dir("QA-MIN-1", 1)
    version.mkdir(parents=True)
    secret = tmp_path / "private.json"
    secret.write_text('{"not": "a record"}', encoding="utf-8")
    os.symlink(secret, version / f"{output_stem('QA-MIN-1', 1)}{suffix}")
    reader = workspace.agreement if suffix == ".agreement.json" else workspace.record
    with pytest.raises(InputError, match=rf"{suffix}: is a symbolic link"):
        reader("QA-MIN-1", 1)


@pytest.fixture()
def endless_server() -> Any:
    """An HTTP server on 127.0.0.1 that answers every POST as a timestamp reply whose body never ends."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.do_GET()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply" if self.path == "/tsa" else
                             "application/ocsp-response")
            self.end_headers()
            try:
                for _ in range(20_000):  # 1.3 GB at most, if nothing stops reading it
                    self.wfile.write(b"\x30" * 65536)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    yield from _serving(Handler)


def test_a_tsa_reply_that_never_ends_is_read_no_further_than_a_timestamp_needs(
        tmp_path: Path, minimal_build: Path, test_pki: Any, endless_server: str) -> None:
    """Attack round 9: a TSA answering 200 with an endless body made `sign` hold 3.2 GB before its timeout."""
    import resource

    from tests.conftest import run_cli

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_cli(*_sign_args(minimal_build / "QA-MIN-1_v1.pdf", tmp_path / "out.pdf", test_pki,
                                 **{"--level": "B-T", "--tsa": endless_server}))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.returncode == 1, result.stderr
    assert (f"the timestamp authority {endless_server} gave no timestamp: its answer is larger than 1,048,576 bytes"
            in result.stderr), result.stderr
    assert grown_mib < 200 and not (tmp_path / "out.pdf").exists()


def test_an_ocsp_or_crl_answer_that_never_ends_is_read_no_further_than_revocation_data_needs(
        tmp_path: Path, minimal_build: Path, endless_server: str) -> None:
    """Attack round 9: with the certificate's OCSP/CRL URLs answered by an endless 200 body, `sign --trust` held
    4 GB (and `verify --online` 2 GB) until its timeout. Answers are read up to 32 MiB; the refusal is one line."""
    import resource
    from urllib.parse import urlsplit

    from qa_builder.testing.pki import create_test_pki
    from tests.conftest import run_cli

    pki = create_test_pki(tmp_path / "pki", port=int(urlsplit(endless_server).port or 0))  # AIA URLs: the server
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_cli(*_sign_args(minimal_build / "QA-MIN-1_v1.pdf", tmp_path / "out.pdf", pki,
                                 **{"--trust": str(pki.root_pem)}))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result.stderr
    assert "revocation" in result.stderr and "internal error" not in result.stderr, result.stderr
    assert grown_mib < 300 and not (tmp_path / "out.pdf").exists()


def test_one_agreement_that_is_a_link_does_not_stop_the_others(tmp_path: Path) -> None:
    """Attack round 9: with agreements/SYM/answers.yaml a link out of the workspace, `impact`, `build --workspace`
    and `regenerate` refused the whole workspace, even `--only` another agreement. The linked agreement is that
    agreement's error; the others are built and analysed."""
    import qa_builder as qa
    from tests.conftest import EXAMPLES, run_cli

    workspace = qa.init_workspace(tmp_path / "ws")
    qa.add_agreement(workspace, EXAMPLES / "us-api-cmo.yaml")
    other = next(workspace.root.glob("agreements/*/answers.yaml")).parent.name
    (workspace.root / "agreements" / "SYM").mkdir()
    private = tmp_path / "private.yaml"
    private.write_text("not: answers\n", encoding="utf-8")
    os.symlink(private, workspace.root / "agreements" / "SYM" / "answers.yaml")
    built = run_cli("build", "--workspace", str(workspace.root), other)
    assert built.returncode == 0, built.stderr
    assert (workspace.root / "agreements" / other / "v1").is_dir()
    everything = run_cli("build", "--workspace", str(workspace.root))
    assert everything.returncode != 0 and "SYM" in everything.stderr and "is a symbolic link" in everything.stderr
    impact = run_cli("impact", str(workspace.root))
    assert "SYM" in impact.stderr + impact.stdout and "Traceback" not in impact.stderr, impact.stderr
    assert f"{other}" not in impact.stderr
    dry = run_cli("regenerate", str(workspace.root), "--dry-run", "--only", other)
    assert dry.returncode == 0, dry.stderr
