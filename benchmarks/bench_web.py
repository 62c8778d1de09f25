"""Web app benchmark: how fast an interview step answers, over HTTP, from a running `qa-builder serve`.

Setup (not timed): a fresh workspace holding the bundled example us-eu-drug-product-cmo (the 37-page
agreement) as an agreement, and `qa-builder serve --port 0 --no-browser` on it, signed in.

Timed, N times each, median and worst reported (target: < 100 ms):
- GET an interview page (the interview replayed over the saved answers, the page rendered);
- POST the inline validation of a page (what htmx sends when a field is left), with one wrong answer;
- POST a page with a valid answer (validated, saved atomically, redirected).

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


def _timed(n: int, call: Callable[[], int], expected: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
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

            for name, call, expected in (("GET interview page", get_page, 200),
                                         ("POST inline validation", check, 200),
                                         ("POST page (validate + save)", save, 303)):
                median, worst = _timed(args.n, call, expected)
                print(f"{name:<30} median {median:6.1f} ms   worst {worst:6.1f} ms   (n={args.n})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
