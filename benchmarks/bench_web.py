"""Web app benchmark: how fast an interview step and the preview answer, over HTTP, from `qa-builder serve`.

Setup (not timed): a fresh workspace holding the bundled example us-eu-drug-product-cmo (the 37-page
agreement) as an agreement, and `qa-builder serve --port 0 --no-browser` on it, signed in.

Timed, N times each, median and worst reported:
- GET an interview page (the interview replayed over the saved answers, the page rendered; target < 100 ms);
- POST the inline validation of a page (what htmx sends when a field is left), with one wrong answer (< 100 ms);
- POST a field left with a valid, changed answer: validated and the draft saved atomically (< 100 ms);
- POST a page with a valid answer (validated, saved, redirected; < 100 ms);
- GET the HTML preview right after an answer changed: the agreement assembled again from the answers and
  rendered as HTML, 37 pages (target < 300 ms); the answer change itself is not timed;
- GET the HTML preview when nothing changed (the assembled agreement is reused).

Usage: python benchmarks/bench_web.py [--n 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_web import Server, request  # noqa: E402

import qa_builder as qa  # noqa: E402


def _timed(n: int, call: Callable[[], int], expected: int,
           before: Callable[[], int] | None = None) -> tuple[float, float]:
    times = []
    for _ in range(n):
        if before is not None:  # not timed: e.g. change an answer so that the preview must be assembled again
            before()
        start = time.perf_counter()
        status = call()
        times.append((time.perf_counter() - start) * 1000)
        assert status == expected, status
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = qa.init_workspace(Path(tmp) / "ws")
        agreement_id = qa.add_agreement(workspace, workspace.root / "examples" / "us-eu-drug-product-cmo.yaml")
        server = Server(workspace.root)
        try:
            link = urlsplit(server.link)
            _, headers, _ = request("GET", server.port, f"{link.path}?{link.query}")
            cookie = headers["set-cookie"].split(";", 1)[0]
            _, _, page = request("GET", server.port, f"/agreements/{agreement_id}/interview/1",
                                 headers={"Cookie": cookie})
            found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
            assert found
            csrf = found.group(1).decode()
            post = {"Cookie": cookie, "Origin": server.base, "Content-Type": "application/x-www-form-urlencoded"}
            title = qa.load_answers(workspace.answers_path(agreement_id)).answers.agreement.title

            def get_page() -> int:
                return request("GET", server.port, f"/agreements/{agreement_id}/interview/1",
                               headers={"Cookie": cookie})[0]

            def check() -> int:
                body = f"csrf_token={csrf}&q%3Aagreement.review_period_months=twelve".encode()
                return request("POST", server.port, f"/agreements/{agreement_id}/interview/1/check", headers=post,
                               body=body)[0]

            def save() -> int:
                body = f"csrf_token={csrf}&q%3Aagreement.title={quote(title)}".encode()
                return request("POST", server.port, f"/agreements/{agreement_id}/interview/1", headers=post,
                               body=body)[0]

            turn = [0]

            def autosave() -> int:
                turn[0] += 1
                body = f"csrf_token={csrf}&q%3Aagreement.title={quote(title)}%20{turn[0]}".encode()
                return request("POST", server.port, f"/agreements/{agreement_id}/interview/1/check", headers=post,
                               body=body)[0]

            def preview() -> int:
                return request("GET", server.port, f"/agreements/{agreement_id}/preview",
                               headers={"Cookie": cookie, "HX-Request": "true"})[0]

            def preview_after_change() -> int:
                return preview()

            for name, call, expected, before in (
                    ("GET interview page", get_page, 200, None),
                    ("POST inline validation", check, 200, None),
                    ("POST field left (autosave)", autosave, 200, None),
                    ("POST page (validate + save)", save, 303, None),
                    ("GET preview after a change", preview_after_change, 200, autosave),
                    ("GET preview, nothing changed", preview, 200, None)):
                median, worst = _timed(args.n, call, expected, before)
                print(f"{name:<30} median {median:6.1f} ms   worst {worst:6.1f} ms   (n={args.n})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
