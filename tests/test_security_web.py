"""The web app's gate and file download, against requests no browser sends (issue 12, session 5 attack round).

Each refusal is an answer naming what is wrong (403 or 404), never "The server could not do this" (500) with a
traceback in the terminal.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import qa_builder as qa
from tests.conftest import MINIMAL_ANSWERS
from tests.test_web import Server, request


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workspace = qa.init_workspace(tmp_path_factory.mktemp("web") / "ws").root
    agreements = workspace / "agreements"
    agreements.mkdir(exist_ok=True)
    os.symlink("loop2.pdf", agreements / "loop1.pdf")
    os.symlink("loop1.pdf", agreements / "loop2.pdf")
    running = Server(workspace)
    try:
        yield running
    finally:
        running.stop()


def _session(server: Server) -> str:
    """Sign in with the one-time link (once per module) and return the session cookie."""
    if not hasattr(server, "cookie"):
        status, headers, _ = request("GET", server.port, server.link.removeprefix(server.base))
        assert status == 303
        server.cookie = headers["set-cookie"].split(";")[0]  # type: ignore[attr-defined]
    return str(server.cookie)  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["token", "cookie", "csrf"])
def test_a_secret_with_non_ascii_characters_is_refused_not_a_server_failure(server: Server, where: str) -> None:
    """`?token=%C3%A9`, a cookie or a CSRF header holding 'é' made hmac.compare_digest raise TypeError: a 500."""
    if where == "token":
        status, _, body = request("GET", server.port, "/?token=%C3%A9")
    elif where == "cookie":
        status, _, body = request("GET", server.port, "/", headers={"Cookie": "qa_builder_session=\u00e9"})
    else:
        status, _, body = request("POST", server.port, "/verify", body=b"a=b", headers={
            "Cookie": _session(server), "Origin": server.base, "X-CSRF-Token": "\u00e9",
            "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403, body
    assert b"Refused" in body
    assert not any("Traceback" in line for line in server.output), "".join(server.output)


@pytest.mark.parametrize("path", ["/files/agreements/%00x.pdf", "/files/agreements/" + "a" * 5000 + ".pdf",
                                  "/files/agreements/loop1.pdf"])
def test_a_download_path_that_cannot_exist_is_no_such_file(server: Server, path: str) -> None:
    """A NUL, an overlong name or a symbolic-link loop was ValueError / OSError / RuntimeError: a 500."""
    status, _, body = request("GET", server.port, path, headers={"Cookie": _session(server)})
    assert status == 404, body
    assert b"No such file in this workspace." in body
    assert not any("Traceback" in line for line in server.output), "".join(server.output)


@pytest.mark.parametrize(("text", "expected"), [
    ("x_a: &a [x, x]\nsignatories: *a\n", "uses a YAML anchor or alias"),
    ("agreement:\n  title: " + "x" * (2 * 1024 * 1024) + "\n", "is larger than 1 MiB"),
    ("agreement: !!python/object/apply:os.system ['true']\n", "uses the YAML tag"),
])
def test_a_draft_is_read_within_the_bounds_of_an_answers_file(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                             expected: str) -> None:
    """Session 5 attack: the web app read drafts (examples/*.yaml, agreements/<ID>/answers.yaml) with a bare
    yaml.load: a 1 KB nest of aliases in a shared workspace held the server at 800 MB and it stopped answering."""
    from qa_builder.errors import InputError
    from qa_builder.web.interview import read_draft

    path = tmp_path_factory.mktemp("draft") / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=f"answers.yaml: cannot be read as answers \\({expected}"):
        read_draft(path)


@pytest.mark.parametrize("servers", [1, 2])
def test_two_signatures_sent_at_once_are_both_kept(tmp_path_factory: pytest.TempPathFactory, minimal_build: Path,
                                                   test_pki: Any, servers: int) -> None:
    """Session 6 attack: two sign forms of one agreement sent at once (two signatories, two tabs, or two people each
    running `qa-builder serve` on a shared workspace) each signed the unsigned PDF; the later replaced the earlier's
    signed copy, yet both pages said "Signed" and the trail recorded both: one signature was lost without a word."""
    workspace = qa.init_workspace(tmp_path_factory.mktemp("web-sign") / "ws").root
    folder = workspace / "agreements" / "QA-MIN-1"
    folder.mkdir(parents=True)
    shutil.copyfile(MINIMAL_ANSWERS, folder / "answers.yaml")
    shutil.copytree(minimal_build, folder / "v1")
    running = [Server(workspace) for _ in range(servers)]
    try:
        sessions = []
        for server in running:
            cookie = _session(server)
            _, _, page = request("GET", server.port, "/agreements/QA-MIN-1/sign", headers={"Cookie": cookie})
            found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
            assert found
            sessions.append((server, cookie, found.group(1).decode()))

        def sign(field: str, signer: str, index: int) -> int:
            server, cookie, csrf = sessions[index % len(sessions)]
            boundary = "attack6-boundary"
            fields = {"csrf_token": csrf, "field": field, "meaning": "approval", "level": "B-B", "source": "p12",
                      "passphrase": test_pki.passphrase().decode()}
            body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                            for k, v in fields.items())
            body += (f'--{boundary}\r\nContent-Disposition: form-data; name="key"; filename="{signer}.p12"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n").encode()
            body += test_pki.p12(signer).read_bytes() + f"\r\n--{boundary}--\r\n".encode()
            status, _, _ = request("POST", server.port, "/agreements/QA-MIN-1/sign", body=body, headers={
                "Cookie": cookie, "Origin": server.base, "Content-Type": f"multipart/form-data; boundary={boundary}"})
            return status

        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(sign, ["sig_sponsor_1", "sig_contract_acceptor_1"],
                                     ["sponsor", "contract-acceptor"], [0, 1]))
        assert statuses == [200, 200]
        signed = {f.name for f in qa.list_signature_fields(folder / "v1" / "QA-MIN-1_v1.signed.pdf") if f.signed}
        assert signed == {"sig_sponsor_1", "sig_contract_acceptor_1"}
    finally:
        for server in running:
            server.stop()


def test_an_agreement_started_in_the_browser_is_recorded_as_added(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Session 6 attack: `qa-builder add` records an `add` event, but an agreement started on the web's "new
    agreement" page was written into the workspace with no event at all (the README: every action on a
    workspace's records is recorded)."""
    workspace = qa.init_workspace(tmp_path_factory.mktemp("web-new") / "ws").root
    running = Server(workspace)
    try:
        cookie = _session(running)
        _, _, page = request("GET", running.port, "/new?from=us-api-cmo", headers={"Cookie": cookie})
        found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        assert found
        fields = {"csrf_token": found.group(1).decode(), "from": "us-api-cmo", "q:agreement.id": "QA-WEB-NEW-1",
                  "q:agreement.title": "Quality Agreement started in the browser", "q:agreement.version": "1",
                  "q:agreement.effective_date": "2027-01-15", "q:agreement.review_period_months": "24",
                  "q:agreement.standalone": "yes", "q:agreement.commercial_agreement": "Supply Agreement"}
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
        status, headers, _ = request("POST", running.port, "/new", body=body, headers={
            "Cookie": cookie, "Origin": running.base, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, headers
    finally:
        running.stop()
    assert (workspace / "agreements" / "QA-WEB-NEW-1" / "answers.yaml").is_file()
    added = [e for e in qa.AuditTrail(workspace).events() if e.action == "add"]
    assert [e.agreement_id for e in added] == ["QA-WEB-NEW-1"]
    assert added[0].files[0].name == "agreements/QA-WEB-NEW-1/answers.yaml"


def test_an_example_that_is_a_link_out_of_the_workspace_is_never_read(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Session 6 attack: a shared workspace's examples/leak.yaml, a symbolic link to a private YAML file elsewhere,
    was listed on the new-agreement page and read by /new?from=leak: its text was shown in the interview (and saved
    into the workspace with the new agreement)."""
    root = tmp_path_factory.mktemp("web-link")
    private = root / "private.yaml"
    private.write_text("agreement:\n  id: QA-PRIVATE-1\n  title: PRIVATE-MARKER-7731\n", encoding="utf-8")
    workspace = qa.init_workspace(root / "ws").root
    (workspace / "examples" / "leak.yaml").symlink_to(private)
    running = Server(workspace)
    try:
        cookie = _session(running)
        status, _, body = request("GET", running.port, "/new?from=leak", headers={"Cookie": cookie})
        assert status == 422 and b"examples/leak.yaml: is a symbolic link" in body, body[:300]
        assert b"PRIVATE-MARKER" not in body
        status, _, body = request("GET", running.port, "/new", headers={"Cookie": cookie})
        assert status == 200 and b"leak" not in body
    finally:
        running.stop()
