"""The web app of `qa-builder serve`, in a real browser (Debian's Chromium driven by Selenium) and over raw HTTP.

The server is the real command (`python -m qa_builder serve --port 0 --no-browser`) on a fresh workspace;
builds use LibreOffice and verification pyHanko, as from the command line.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from markupsafe import escape
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

import qa_builder as qa
from qa_builder.web.interview import replay

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class Server:
    """A running `qa-builder serve` and its one-time sign-in link."""

    def __init__(self, workspace: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "qa_builder", "serve", str(workspace), "--port", "0",
                                         "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env)
        assert self.process.stdout is not None
        self.link = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if found:
                self.link = found.group(1)
                break
            if not line and self.process.poll() is not None:
                break
        assert self.link, "qa-builder serve printed no sign-in link"
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        parts = urlsplit(self.link)
        self.port = parts.port or 0
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_listening()

    def _drain(self) -> None:
        """Keep reading the server's output so it never blocks on a full pipe."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                request("GET", self.port, "/static/none")
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def request(method: str, port: int, path: str, *, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request (no browser, no normalisation of the path)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        all_headers = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    return qa.init_workspace(tmp_path / "ws").root


@pytest.fixture()
def server(workspace: Path) -> Iterator[Server]:
    running = Server(workspace)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), "run tools/install-system-deps.sh (chromium, driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1600"):
        options.add_argument(flag)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def _person_answers(example: Path) -> dict[str, str]:
    """What a person types for each question to reproduce an example (the text the interview shows for it)."""
    shown = replay(yaml.safe_load(example.read_text(encoding="utf-8")))
    return {q.key: q.value for section in shown.sections for q in section.questions}


def _fill_page(driver: WebDriver, answers: dict[str, str]) -> None:
    for element in driver.find_elements(By.CSS_SELECTOR, "form.interview input[data-key]"):
        key = element.get_attribute("data-key") or ""
        if key in answers:
            element.clear()
            element.send_keys(answers[key])
    _submit(driver)


def _submit(driver: WebDriver) -> None:
    """Send the interview page and wait for the next page (or the same one with its errors) to load."""
    form = driver.find_element(By.CSS_SELECTOR, "form.interview")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(form))


def _sign(driver: WebDriver, key: Path, passphrase: str) -> None:
    driver.find_element(By.ID, "key").send_keys(str(key))
    driver.find_element(By.ID, "passphrase").send_keys(passphrase)
    _follow(driver, driver.find_element(By.ID, "sign-button"))


def _follow(driver: WebDriver, element: WebElement) -> None:
    """Click a link or button that loads a new page, and wait until it has."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))


def test_a_person_drafts_fixes_builds_downloads_and_verifies(server: Server, workspace: Path,
                                                             browser: WebDriver, tmp_path: Path) -> None:
    answers = _person_answers(workspace / "examples" / "us-api-cmo.yaml")
    answers["agreement.id"] = "QA-WEB-1"
    answers["inspections.notify_within_hours"] = "72"  # more than the library's 24 h: a review finding

    browser.get(server.link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Agreements"
    assert "?token=" not in browser.current_url  # the token left the address bar (and history)
    _follow(browser, browser.find_element(By.LINK_TEXT, "Start from nothing"))

    # Inline validation: leaving a field with a wrong value shows why, beside it, before anything is sent.
    months = browser.find_element(By.CSS_SELECTOR, "input[data-key='agreement.review_period_months']")
    months.clear()
    months.send_keys("twelve", Keys.TAB)
    note = months.get_attribute("aria-describedby") or ""
    swapping = WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException])
    swapping.until(lambda d: d.find_element(By.ID, note).text)
    text = browser.find_element(By.ID, note).text
    assert text.startswith("Review the agreement every how many months") and "integer" in text
    months.clear()
    months.send_keys("24", Keys.TAB)
    swapping.until(lambda d: not d.find_element(By.ID, note).text)

    # An invalid answer is refused beside its field, in a sentence naming it; nothing is written.
    wrong = {**answers, "agreement.review_period_months": "twelve"}
    _fill_page(browser, wrong)
    error = browser.find_element(By.CSS_SELECTOR, ".question.invalid .error")
    assert error.text.startswith("Review the agreement every how many months")
    assert not (workspace / "agreements" / "QA-WEB-1").exists()

    pages = 0
    _fill_page(browser, answers)
    while "/interview/" in browser.current_url:
        pages += 1
        assert pages < 40, "the interview does not end"
        assert not browser.find_elements(By.CSS_SELECTOR, ".question.invalid"), browser.page_source[:2000]
        _fill_page(browser, answers)
    assert pages > 10  # one section per page
    assert browser.current_url.endswith("/agreements/QA-WEB-1")

    # The draft the browser wrote is an answers file the CLI reads; it has the finding.
    answers_file = workspace / "agreements" / "QA-WEB-1" / "answers.yaml"
    cli = subprocess.run([sys.executable, "-m", "qa_builder", "check", str(answers_file)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert "inspections.notify_within_hours" in cli.stdout + cli.stderr
    finding = browser.find_element(By.CSS_SELECTOR, "li.finding")
    assert "inspections.notify_within_hours" in finding.text

    # Follow the finding to its question, see it beside the field, fix it.
    _follow(browser, finding.find_element(By.LINK_TEXT, "Change this answer"))
    beside = browser.find_element(By.CSS_SELECTOR, ".question .finding")
    field = beside.find_element(By.XPATH, "./preceding-sibling::input")
    assert field.get_attribute("data-key") == "inspections.notify_within_hours"
    field.clear()
    field.send_keys("24")
    _submit(browser)
    browser.get(f"{server.base}/agreements/QA-WEB-1")
    assert browser.find_elements(By.ID, "no-findings")
    assert qa.check_answers(answers_file, library=workspace / "clause_library") == []

    # Build with progress, then download the PDF.
    browser.find_element(By.ID, "build-button").click()
    WebDriverWait(browser, 240).until(
        lambda d: d.find_elements(By.ID, "build-done") or d.find_elements(By.ID, "build-error"))
    assert not browser.find_elements(By.ID, "build-error"), browser.find_element(By.ID, "build-error").text
    _follow(browser, browser.find_element(By.LINK_TEXT, "Show the files"))
    assert browser.find_element(By.ID, "status").text == "built"
    assert browser.find_element(By.LINK_TEXT, "QA-WEB-1_v1.build.json")
    browser.get(f"{server.base}/")  # the dashboard links straight to the latest version's files
    row = browser.find_element(By.XPATH, "//tr[td/a[text()='QA-WEB-1']]")
    assert "built" in row.text and "0 errors" in row.text
    row.find_element(By.LINK_TEXT, "QA-WEB-1_v1.pdf").click()
    downloaded = tmp_path / "downloads" / "QA-WEB-1_v1.pdf"
    WebDriverWait(browser, 30).until(lambda d: downloaded.is_file() and downloaded.stat().st_size > 0)
    built = workspace / "agreements" / "QA-WEB-1" / "v1" / "QA-WEB-1_v1.pdf"
    assert downloaded.read_bytes() == built.read_bytes()

    # Sign twice in the browser: the passphrase is typed, used once; a wrong one after the right one fails.
    pki = qa.create_test_pki(tmp_path / "pki")
    passphrase = pki.passphrase().decode()
    browser.get(f"{server.base}/agreements/QA-WEB-1/sign")
    _sign(browser, pki.p12("sponsor"), passphrase)
    assert browser.find_elements(By.ID, "signed"), browser.find_element(By.TAG_NAME, "body").text
    assert "Signed field" in browser.find_element(By.ID, "signed").text
    assert "Dr. Ilse Verhoeven" in browser.find_element(By.ID, "report").text
    _sign(browser, pki.p12("contract-acceptor"), passphrase + "x")
    assert "passphrase" in browser.find_element(By.ID, "sign-error").text.lower()
    assert not browser.find_elements(By.ID, "signed")
    _sign(browser, pki.p12("contract-acceptor"), passphrase)
    assert "Dr. Matthias Brenner" in browser.find_element(By.ID, "signed").text
    signed = workspace / "agreements" / "QA-WEB-1" / "v1" / "QA-WEB-1_v1.signed.pdf"
    assert [f.signed for f in qa.list_signature_fields(signed)].count(True) == 2
    assert passphrase not in "".join(server.output)
    assert passphrase.encode() not in (workspace / "audit" / "trail.sqlite3").read_bytes()
    assert not list(workspace.rglob("*.p12")), "the uploaded key was left in the workspace"
    browser.find_element(By.LINK_TEXT, "Download the signed PDF").click()
    received = tmp_path / "downloads" / "QA-WEB-1_v1.signed.pdf"
    WebDriverWait(browser, 30).until(lambda d: received.is_file() and received.stat().st_size > 0)

    # Verify the received file: the same verdict as `qa-builder verify`.
    browser.get(f"{server.base}/verify")
    browser.find_element(By.ID, "file").send_keys(str(received))
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    verdict = browser.find_element(By.ID, "verdict").text
    cli = subprocess.run([sys.executable, "-m", "qa_builder", "verify", str(received)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert verdict and verdict in cli.stdout, (verdict, cli.stdout)
    report = browser.find_element(By.ID, "report").text
    assert "QA-WEB-1_v1.signed.pdf" in report and "Dr. Matthias Brenner" in report
    browser.get(f"{server.base}/agreements/QA-WEB-1")
    every_field_signed = all(f.signed for f in qa.list_signature_fields(signed))
    assert browser.find_element(By.ID, "status").text == ("signed" if every_field_signed else "partly signed")

    # The audit trail shows the build, read-only, with the chain check.
    browser.get(f"{server.base}/audit?agreement=QA-WEB-1")
    assert "The chain is intact" in browser.find_element(By.ID, "chain").text
    assert "build" in browser.find_element(By.TAG_NAME, "tbody").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main form[method=post]")


def _signed_in(server: Server) -> str:
    status, headers, _ = request("GET", server.port, urlsplit(server.link).path + "?" + urlsplit(server.link).query)
    assert status == 303
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    return cookie.split(";", 1)[0]


def test_without_the_token_everything_is_refused(server: Server) -> None:
    for path in ("/", "/new", "/audit", "/static/htmx.min.js", "/?token=guessed"):
        status, _, _ = request("GET", server.port, path)
        assert status == 403, path


def test_the_token_works_once(server: Server) -> None:
    _signed_in(server)
    status, _, _ = request("GET", server.port, "/?" + urlsplit(server.link).query)
    assert status == 403


def test_pages_carry_a_strict_content_security_policy(server: Server) -> None:
    cookie = _signed_in(server)
    status, headers, _ = request("GET", server.port, "/", headers={"Cookie": cookie})
    assert status == 200
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]


def test_another_host_name_is_refused(server: Server) -> None:
    cookie = _signed_in(server)
    status, _, _ = request("GET", server.port, "/", headers={"Cookie": cookie, "Host": f"evil.test:{server.port}"})
    assert status == 400


def test_cross_origin_and_csrf_less_posts_are_refused(server: Server, workspace: Path) -> None:
    cookie = _signed_in(server)
    status, _, page = request("GET", server.port, "/new", headers={"Cookie": cookie})
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert status == 200 and token
    form = b"csrf_token=" + token.group(1) + b"&q%3Aagreement.id=QA-EVIL"
    base = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    cross = request("POST", server.port, "/new", headers={**base, "Origin": "http://evil.test"}, body=form)
    no_origin = request("POST", server.port, "/new", headers=base, body=form)
    no_csrf = request("POST", server.port, "/new", headers={**base, "Origin": server.base},
                      body=b"q%3Aagreement.id=QA-EVIL")
    assert [cross[0], no_origin[0], no_csrf[0]] == [403, 403, 403]
    # The same form from the app's own page is accepted (so the refusals above are the checks at work).
    own = request("POST", server.port, "/new", headers={**base, "Origin": server.base}, body=form)
    assert own[0] == 422 and b"QA-EVIL" in own[2]
    assert not (workspace / "agreements" / "QA-EVIL").exists()


def test_oversized_uploads_are_refused(server: Server) -> None:
    cookie = _signed_in(server)
    status, _, _ = request("POST", server.port, "/verify", headers={
        "Cookie": cookie, "Origin": server.base, "Content-Type": "application/octet-stream",
        "Content-Length": str(60 * 1024 * 1024)}, body=b"")
    assert status == 413


@pytest.mark.parametrize("path", ["/files/..%2F..%2F..%2Fetc%2Fpasswd", "/files/../../etc/passwd",
                                  "/files/%2Fetc%2Fpasswd", "/files/qa-builder.yaml",
                                  "/files/agreements/..%2F..%2Fqa-builder.yaml",
                                  "/agreements/..%2F..%2Fetc/interview/1",
                                  "/new?from=..%2F..%2Fetc%2Fpasswd"])
def test_paths_from_the_browser_stay_in_the_workspace(server: Server, path: str) -> None:
    cookie = _signed_in(server)
    status, _, body = request("GET", server.port, path, headers={"Cookie": cookie})
    assert status == 404, (path, body[:200])
    assert b"root:" not in body


def test_the_app_reads_what_the_cli_wrote_and_names_a_broken_file(server: Server, workspace: Path) -> None:
    example = workspace / "examples" / "us-api-cmo.yaml"
    agreement_id = qa.add_agreement(qa.open_workspace(workspace), example)
    cookie = _signed_in(server)
    status, _, page = request("GET", server.port, f"/agreements/{agreement_id}/interview/1",
                              headers={"Cookie": cookie})
    title = qa.load_answers(example).answers.agreement.title
    assert status == 200 and f'value="{escape(title)}"'.encode() in page
    answers = workspace / "agreements" / agreement_id / "answers.yaml"
    answers.write_text("agreement: [unclosed\n", encoding="utf-8")
    status, _, page = request("GET", server.port, f"/agreements/{agreement_id}", headers={"Cookie": cookie})
    assert status == 422
    assert str(answers).encode() in page and b"Traceback" not in page
