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
import tempfile
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
from selenium.webdriver.support.ui import Select, WebDriverWait

import qa_builder as qa
from qa_builder.questionnaire.help import question_help
from qa_builder.web.interview import replay
from tests.conftest import SOFTHSM_MODULE, free_port, make_softhsm_token, run_cli

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "docs" / "screenshots"
SCRATCH_SCREENSHOTS = Path(tempfile.gettempdir()) / f"qa-builder-screenshots-{os.getuid()}"
TOKEN_PIN = "27182818"


class Server:
    """A running `qa-builder serve` and its one-time sign-in link."""

    def __init__(self, workspace: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        environment = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "qa_builder", "serve", str(workspace), "--port", "0",
                                         "--no-browser", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=environment)
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
    # A signature at B-LTA (OCSP, timestamps, a self-check) and its verification can take minutes on a loaded
    # shared machine; the driver's default 120 s read timeout would fail the step, not the app.
    driver.command_executor.client_config.timeout = 600
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


def _sign(driver: WebDriver, key: Path, passphrase: str, level: str = "B-B") -> None:
    Select(driver.find_element(By.ID, "level")).select_by_value(level)
    driver.find_element(By.ID, "source-p12").click()
    driver.find_element(By.ID, "key").send_keys(str(key))
    driver.find_element(By.ID, "passphrase").send_keys(passphrase)
    _follow(driver, driver.find_element(By.ID, "sign-button"))


def _sign_with_token(driver: WebDriver, pin: str, level: str = "B-B") -> None:
    Select(driver.find_element(By.ID, "level")).select_by_value(level)
    driver.find_element(By.ID, "source-token").click()
    driver.find_element(By.ID, "token_label").send_keys("qa-token")
    driver.find_element(By.ID, "key_label").send_keys("sponsor")
    driver.find_element(By.ID, "pin").send_keys(pin)
    _follow(driver, driver.find_element(By.ID, "sign-button"))


def _follow(driver: WebDriver, element: WebElement) -> None:
    """Click a link or button that loads a new page, and wait until it has."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))


def _type_and_leave(driver: WebDriver, key: str, text: str) -> None:
    """Replace a field's answer and leave it (Tab): htmx validates and, when the page is valid, saves."""
    field = driver.find_element(By.CSS_SELECTOR, f"input[data-key='{key}']")
    field.clear()
    field.send_keys(text, Keys.TAB)
    WebDriverWait(driver, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.ID, "autosave").text.startswith("Draft saved"))


def _screenshot(driver: WebDriver, name: str) -> None:
    """Save a screenshot of the whole page: into docs/screenshots/ (committed, shown in the README) when
    QA_BUILDER_SCREENSHOTS=1 (`make screenshots`), else into a scratch folder so a test run changes no
    committed file. Taken either way, so the path is exercised."""
    folder = SCREENSHOTS if os.environ.get("QA_BUILDER_SCREENSHOTS") == "1" else SCRATCH_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1500, min(max(height, 900), 2400))
    assert driver.save_screenshot(str(folder / f"{name}.png")), name
    driver.set_window_size(1280, 1600)


def test_a_person_drafts_fixes_builds_signs_twice_verifies_and_regenerates(workspace: Path, browser: WebDriver,
                                                                            tmp_path: Path) -> None:
    pki = qa.create_test_pki(tmp_path / "pki", port=free_port())
    token_config = make_softhsm_token(tmp_path / "softhsm", pki, pin=TOKEN_PIN)
    _add_intermediate(token_config, pki)
    with qa.TestPkiServer(pki):  # the loopback TSA, OCSP responder and CRLs of the TEST ONLY PKI
        server = Server(workspace, "--pkcs11-module", str(SOFTHSM_MODULE), "--tsa", pki.tsa_url,
                        "--trust", str(pki.root_pem), env={"SOFTHSM2_CONF": str(token_config)})
        try:
            _whole_path(server, workspace, browser, tmp_path, pki)
        finally:
            server.stop()


def _see_the_help_of_the_markets_question(browser: WebDriver) -> None:
    """The markets question cites every jurisdiction's rules: folded, opened by keyboard, unverified ones said so."""
    field = browser.find_element(By.CSS_SELECTOR, "input[data-key='products[0].markets']")
    number = (field.get_attribute("id") or "")[1:]
    helped = question_help("products[0].markets")
    assert helped is not None and helped.folded
    assert browser.find_element(By.ID, f"q{number}-decides").text == helped.decides
    folded = browser.find_element(By.ID, f"q{number}-sources")
    items = folded.find_elements(By.TAG_NAME, "li")
    assert folded.get_attribute("open") is None and not items[0].is_displayed()
    summary = folded.find_element(By.TAG_NAME, "summary")
    assert summary.text == f"Sources ({len(helped.citations)})"
    summary.send_keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: items[0].is_displayed())
    assert [i.text for i in items] == [c.line for c in helped.citations]
    assert any(i.text.endswith("(unverified)") for i in items)


def _add_intermediate(token_config: Path, pki: qa.TestPki) -> None:
    """Put the issuing CA's certificate on the token too, as a real signing card carries it: the signature
    then embeds the whole chain and verifies against the root alone."""
    from cryptography.hazmat.primitives import serialization

    _, _, chain = pki.load_key_and_certificates("sponsor")
    der = token_config.parent / "intermediate.der"
    der.write_bytes(chain[0].public_bytes(serialization.Encoding.DER))
    subprocess.run(["pkcs11-tool", "--module", str(SOFTHSM_MODULE), "--token-label", "qa-token", "--login", "--pin",
                    TOKEN_PIN, "--write-object", str(der), "--type", "cert", "--label", "intermediate", "--id", "02"],
                   check=True, capture_output=True, timeout=60,
                   env={"SOFTHSM2_CONF": str(token_config), "PATH": "/usr/bin:/bin"})


def _whole_path(server: Server, workspace: Path, browser: WebDriver, tmp_path: Path, pki: qa.TestPki) -> None:
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
    note = (months.get_attribute("aria-describedby") or "").split()[0]
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
    markets_help_seen = False
    _fill_page(browser, answers)
    progress = [browser.find_element(By.ID, "progress").text]
    while "/interview/" in browser.current_url:
        pages += 1
        assert pages < 40, "the interview does not end"
        assert not browser.find_elements(By.CSS_SELECTOR, ".question.invalid"), browser.page_source[:2000]
        if pages == 3:
            _screenshot(browser, "interview")
        if browser.find_elements(By.CSS_SELECTOR, "input[data-key='products[0].markets']"):
            _see_the_help_of_the_markets_question(browser)
            markets_help_seen = True
        _fill_page(browser, answers)
        if "/interview/" in browser.current_url:
            progress.append(browser.find_element(By.ID, "progress").text)
    assert pages > 10  # one section per page
    assert markets_help_seen
    assert browser.current_url.endswith("/agreements/QA-WEB-1")
    answered = [int(p.split(" ", 1)[0]) for p in progress]
    assert answered[0] < answered[-1], progress  # the outline counts the answers given

    # The draft the browser wrote is an answers file the CLI reads; it has the finding.
    answers_file = workspace / "agreements" / "QA-WEB-1" / "answers.yaml"
    cli = run_cli("check", str(answers_file))
    assert "inspections.notify_within_hours" in cli.stdout + cli.stderr
    finding = browser.find_element(By.CSS_SELECTOR, "li.finding")
    assert "inspections.notify_within_hours" in finding.text

    # The review page: the finding under errors, no gaps, every library clause in or out with why.
    browser.get(f"{server.base}/agreements/QA-WEB-1/review")
    errors = browser.find_element(By.XPATH, "//h3[@id='errors']/following-sibling::ul[1]")
    assert "QA-INSP-001" in errors.text and "Why:" in errors.text and "Fix:" in errors.text
    assert browser.find_elements(By.ID, "no-gaps")
    rows = browser.find_elements(By.CSS_SELECTOR, "#selection tbody tr")
    library = qa.load_library(workspace / "clause_library")
    assert len(rows) == len(library.clauses)
    lab_only = browser.find_elements(By.XPATH, "//tr[contains(@class,'left-out')]/td[3]"
                                               "[contains(., 'the contract acceptor is a contract laboratory')]")
    assert lab_only, "a laboratory-only clause is left out for a CMO, and the page says why in words"
    assert all("facts." not in row.text for row in rows)
    _screenshot(browser, "review")

    # Follow the finding to its question, see it beside the field with reason, fix and source; fix it.
    finding = browser.find_element(By.CSS_SELECTOR, "li.finding-error")
    _follow(browser, finding.find_element(By.LINK_TEXT, "Change this answer"))
    beside = browser.find_element(By.CSS_SELECTOR, ".question .finding")
    assert "Why:" in beside.text and "Fix:" in beside.text and "Sources:" in beside.text
    field = beside.find_element(By.XPATH, "./preceding-sibling::input")
    assert field.get_attribute("data-key") == "inspections.notify_within_hours"
    # The question's own help: what the answer decides and the sources, as `qa-builder questionnaire` shows.
    number = (field.get_attribute("id") or "")[1:]
    helped = question_help("inspections.notify_within_hours")
    assert helped is not None
    assert browser.find_element(By.ID, f"q{number}-decides").text == helped.decides
    sources = browser.find_element(By.ID, f"q{number}-sources")
    assert sources.is_displayed() and sources.text == "Sources: " + "; ".join(c.line for c in helped.citations)
    assert "Dir (EU) 2017/1572 Art. 12" in sources.text
    # Saved as soon as the field is left (no button): a reload loses nothing.
    _type_and_leave(browser, "inspections.notify_within_hours", "24")
    browser.refresh()
    kept = browser.find_element(By.CSS_SELECTOR, "input[data-key='inspections.notify_within_hours']")
    assert kept.get_attribute("value") == "24"
    assert "notify_within_hours: 24" in answers_file.read_text(encoding="utf-8")
    browser.get(f"{server.base}/agreements/QA-WEB-1")
    assert browser.find_elements(By.ID, "no-findings")
    assert qa.check_answers(answers_file, library=workspace / "clause_library") == []

    # The preview beside the interview reads like the agreement and follows an answer as it changes.
    browser.get(f"{server.base}/agreements/QA-WEB-1/interview/1")
    title = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, "#preview .doc-title"))
    assert title.text == answers["agreement.title"]
    clauses = browser.find_elements(By.CSS_SELECTOR, "#preview .doc-clause")
    model = qa.assemble_agreement(answers_file, library=library)
    assert len(clauses) == sum(len(s.clauses) for s in model.sections)
    _type_and_leave(browser, "agreement.title", "Quality Agreement for Halvexa API, draft B")
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#preview .doc-title").text ==
        "Quality Agreement for Halvexa API, draft B")
    # Its Annex C cites as the document does: short keys with provisions, and each instrument once below.
    citations = browser.find_elements(By.CSS_SELECTOR, "#preview #annex-c table.traceability tbody td:nth-child(2)")
    assert [c.text for c in citations] == [t.citation for t in model.traceability]
    keys = browser.find_elements(By.CSS_SELECTOR, "#preview #annex-c table.sources-list tbody td:first-child")
    assert [k.text for k in keys] == [s.key for s in model.sources] and keys
    _screenshot(browser, "interview-preview")

    # Build with progress, then download the PDF.
    browser.get(f"{server.base}/agreements/QA-WEB-1")
    browser.find_element(By.ID, "build-button").click()
    WebDriverWait(browser, 240).until(
        lambda d: d.find_elements(By.ID, "build-done") or d.find_elements(By.ID, "build-error"))
    assert not browser.find_elements(By.ID, "build-error"), browser.find_element(By.ID, "build-error").text
    _follow(browser, browser.find_element(By.LINK_TEXT, "Show the files"))
    assert browser.find_element(By.ID, "status").text == "built"
    assert browser.find_element(By.LINK_TEXT, "QA-WEB-1_v1.build.json")
    browser.get(f"{server.base}/")  # the dashboard links straight to each version's files
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-agreement='QA-WEB-1']")
    assert "built" in row.text and "0 errors" in row.text and "up to date" in row.text
    row.find_element(By.CSS_SELECTOR, "a[aria-label='QA-WEB-1_v1.pdf']").click()
    downloaded = tmp_path / "downloads" / "QA-WEB-1_v1.pdf"
    WebDriverWait(browser, 30).until(lambda d: downloaded.is_file() and downloaded.stat().st_size > 0)
    built = workspace / "agreements" / "QA-WEB-1" / "v1" / "QA-WEB-1_v1.pdf"
    assert downloaded.read_bytes() == built.read_bytes()

    # Sign twice: the sponsor with a PKCS#11 token (SoftHSM2), the acceptor with a PKCS#12 file. PIN and
    # passphrase are typed, used once: a wrong one right after a right one fails.
    passphrase = pki.passphrase().decode()
    browser.get(f"{server.base}/agreements/QA-WEB-1/sign")
    assert browser.find_element(By.ID, "certify").is_selected()  # the first signature certifies by default
    _sign_with_token(browser, TOKEN_PIN, "B-LT")
    assert browser.find_elements(By.ID, "signed"), browser.find_element(By.TAG_NAME, "body").text
    assert "Signed field" in browser.find_element(By.ID, "signed").text
    report = browser.find_element(By.ID, "report").text
    assert "QA-WEB-1_v1.signed.pdf: PASSED" in report  # trusted, with revocation data: the whole file passes
    assert "Dr. Ilse Verhoeven" in report and "level B-LT" in report and "revocation good" in report, report
    assert not browser.find_elements(By.ID, "certify")  # only the first signature may certify
    _screenshot(browser, "sign")
    assert browser.execute_script(_UNLABELLED) == []  # the sign form too: every control has a label
    _sign_with_token(browser, "0000")
    assert "pin" in browser.find_element(By.ID, "sign-error").text.lower()
    assert not browser.find_elements(By.ID, "signed")
    assert TOKEN_PIN not in browser.page_source and "0000" not in browser.page_source
    _sign(browser, pki.p12("contract-acceptor"), passphrase + "x")
    assert "passphrase" in browser.find_element(By.ID, "sign-error").text.lower()
    assert not browser.find_elements(By.ID, "signed")
    _sign(browser, pki.p12("contract-acceptor"), passphrase, "B-LTA")
    assert "Dr. Matthias Brenner" in browser.find_element(By.ID, "signed").text
    signed = workspace / "agreements" / "QA-WEB-1" / "v1" / "QA-WEB-1_v1.signed.pdf"
    assert [f.signed for f in qa.list_signature_fields(signed) if f.name.startswith("sig_")].count(True) == 2
    for secret in (passphrase, TOKEN_PIN):
        assert secret not in "".join(server.output)
        assert secret.encode() not in (workspace / "audit" / "trail.sqlite3").read_bytes()
    assert not list(workspace.rglob("*.p12")), "the uploaded key was left in the workspace"
    browser.find_element(By.LINK_TEXT, "Download the signed PDF").click()
    received = tmp_path / "downloads" / "QA-WEB-1_v1.signed.pdf"
    WebDriverWait(browser, 30).until(lambda d: received.is_file() and received.stat().st_size > 0)

    # Verify the received file: the same verdict as `qa-builder verify`.
    browser.get(f"{server.base}/verify")
    browser.find_element(By.ID, "file").send_keys(str(received))
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    verdict = browser.find_element(By.ID, "verdict").text
    cli = run_cli("verify", str(received), "--trust", str(pki.root_pem))
    assert verdict == "TOTAL-PASSED" and cli.returncode == 0, (verdict, cli.stdout)
    assert f"{received.name}: PASSED" in cli.stdout and f"{received.name}: PASSED" in browser.page_source
    report = browser.find_element(By.ID, "report").text
    assert "QA-WEB-1_v1.signed.pdf" in report and "Dr. Matthias Brenner" in report
    _screenshot(browser, "verify")
    browser.get(f"{server.base}/agreements/QA-WEB-1")
    assert browser.find_element(By.ID, "status").text == "partly signed"  # two of three signatories

    # An answer changes after the build: the dashboard says which agreement is affected and why, and
    # regenerates it with live progress into v2 with a redline; v1 (signed) is kept, superseded.
    browser.get(f"{server.base}/agreements/QA-WEB-1/interview/1")
    _type_and_leave(browser, "agreement.title", "Quality Agreement for Halvexa API, revision 2")
    browser.get(f"{server.base}/")
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-agreement='QA-WEB-1']")
    assert "affected" in row.find_element(By.CSS_SELECTOR, ".impact").text
    assert "answers changed" in row.text
    browser.find_element(By.ID, "regenerate-button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "regenerate-running")
                                     or d.find_elements(By.ID, "regenerate-done"))
    WebDriverWait(browser, 240).until(
        lambda d: d.find_elements(By.ID, "regenerate-done") or d.find_elements(By.ID, "regenerate-error"))
    assert not browser.find_elements(By.ID, "regenerate-error"), browser.find_element(By.ID, "regenerate-error").text
    assert "1 new version" in browser.find_element(By.ID, "regenerate-done").text
    browser.get(f"{server.base}/")
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-agreement='QA-WEB-1']")
    versions = row.find_elements(By.CSS_SELECTOR, ".version")
    assert versions[0].text.startswith("v2 built") and versions[1].text.startswith("v1 superseded")
    links = {a.text: a.get_attribute("aria-label") for a in versions[0].find_elements(By.TAG_NAME, "a")}
    for kind, name in (("DOCX", "QA-WEB-1_v2.docx"), ("PDF", "QA-WEB-1_v2.pdf"),
                       ("redline", "QA-WEB-1_v2.redline.docx"), ("build record", "QA-WEB-1_v2.build.json")):
        assert links.get(kind) == name, links
    assert "up to date" in row.text
    assert signed.is_file()
    assert [f.signed for f in qa.list_signature_fields(signed) if f.name.startswith("sig_")].count(True) == 2
    _screenshot(browser, "dashboard")

    # The audit trail: read-only, filterable, with the chain check and a CSV export.
    browser.get(f"{server.base}/audit?agreement=QA-WEB-1")
    assert "The chain is intact" in browser.find_element(By.ID, "chain").text
    assert "build" in browser.find_element(By.TAG_NAME, "tbody").text
    Select(browser.find_element(By.ID, "action")).select_by_value("sign")
    Select(browser.find_element(By.ID, "outcome")).select_by_value("failed")
    _follow(browser, browser.find_element(By.ID, "filter-button"))
    failed = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert len(failed) == 2 and all("sign" in r.text and "failed" in r.text for r in failed), [r.text for r in failed]
    _screenshot(browser, "audit")
    assert not browser.find_elements(By.CSS_SELECTOR, "main form[method=post]:not(.export)")
    browser.find_element(By.ID, "export-button").click()
    downloads = tmp_path / "downloads"
    WebDriverWait(browser, 30).until(lambda d: list(downloads.glob("audit-trail-*.csv"))
                                     and not list(downloads.glob("*.crdownload")))
    exported = next(downloads.glob("audit-trail-*.csv")).read_text(encoding="utf-8")
    assert exported.startswith("seq,time,actor") and ",sign,failed," in exported
    assert TOKEN_PIN not in exported and passphrase not in exported


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
    assert status == 200  # the page opens and says why, so the answers can be corrected (session 7)
    assert f"agreements/{agreement_id}/answers.yaml: cannot be read as answers".encode() in page
    assert b"Traceback" not in page


_UNLABELLED = """
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button')).filter(e =>
  !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
  && !(e.tagName === 'BUTTON' && e.textContent.trim())).map(e => e.outerHTML);
"""


def test_every_control_has_a_label_and_the_interview_works_by_keyboard(server: Server, workspace: Path,
                                                                       browser: WebDriver) -> None:
    agreement_id = qa.add_agreement(qa.open_workspace(workspace), workspace / "examples" / "us-api-cmo.yaml")
    browser.get(server.link)
    for path in ("/", "/new", f"/agreements/{agreement_id}", f"/agreements/{agreement_id}/interview/1",
                 f"/agreements/{agreement_id}/review", f"/agreements/{agreement_id}/preview", "/verify", "/audit"):
        browser.get(server.base + path)
        controls = browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select, button")
        assert controls or ("/interview/" not in path and path not in ("/new", "/verify", "/audit")), path
        assert browser.execute_script(_UNLABELLED) == [], path

    # 200 % zoom on a 1280-pixel screen is a 640-pixel-wide page: the interview reflows, nothing scrolls sideways.
    browser.set_window_size(640, 1200)
    browser.get(f"{server.base}/agreements/{agreement_id}/interview/1")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.set_window_size(1280, 1600)

    # Keyboard only: Tab to the title, type, Enter sends the page; the next page opens with the answer saved.
    browser.get(f"{server.base}/agreements/{agreement_id}/interview/1")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(80):
        active = browser.switch_to.active_element
        if active.get_attribute("data-key") == "agreement.title":
            break
        active.send_keys(Keys.TAB)
    else:
        raise AssertionError("the title field cannot be reached with the Tab key")
    active.send_keys(Keys.CONTROL, "a")
    active.send_keys("Typed with the keyboard only", Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith(f"/agreements/{agreement_id}/interview/2"))
    saved = qa.load_answers(workspace / "agreements" / agreement_id / "answers.yaml").answers.agreement.title
    assert saved == "Typed with the keyboard only"
