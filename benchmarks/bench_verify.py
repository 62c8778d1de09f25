"""Verify benchmark: `qa-builder verify` over N signed two-signature agreements vs. poppler's `pdfsig`, same run.

Setup (not timed): N agreements built from variations of an answers file, each certified by the sponsor
(B-LT) and approved by the contract acceptor (B-LTA, so a document timestamp and DSS follow), with a TEST
PKI whose TSA/OCSP/CRL run on 127.0.0.1.

Timed first, the demo's signed agreement (`make demo`: 4 signatures and a document timestamp) alone: in one warm
process (`verify_pdf`, median of 3) and from the CLI (`qa-builder verify --trust ROOT FILE`, median of 3); targets
(issue 17): <= 1.0 s and <= 1.5 s.

Then, all on the same N files:
- qa-builder: one `qa-builder verify --jobs J --json --trust ROOT FILES...` process (the full report:
  AdES indication, chain, embedded revocation, difference analysis, PAdES level, Part 11 manifestation);
- pdfsig: one `pdfsig -nocert FILE` process per file, one after another (digest and signature value only:
  no trust to a given root, no DocMDP or difference analysis, no document timestamps);
- pyHanko alone: one process running pyHanko's own `validate_pdf_signature` on every signature with the
  difference analysis (what the library needs for the integrity part of our report, without AdES);
- qa-builder's report with and without its difference analysis (changes after signing, visual comparison), one
  `verify()` call each in a fresh process; target (issue 17): with <= 3x without.

Usage: python benchmarks/bench_verify.py [--n 50] [--jobs 2] [--scenario example|short]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import SCENARIOS, make_answers

PYHANKO_ONLY = """
import sys, logging
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext
logging.disable(logging.CRITICAL)
root = load_cert_from_pemder(sys.argv[1])
for name in sys.argv[2:]:
    with open(name, 'rb') as handle:
        reader = PdfFileReader(handle)
        for sig in reader.embedded_signatures:
            context = ValidationContext(trust_roots=[root], allow_fetching=False)
            if sig.sig_object_type == '/DocTimeStamp':
                validate_pdf_timestamp(sig, validation_context=context)
            else:
                validate_pdf_signature(sig, context)
"""


def prepare(work: Path, n: int, scenario: str) -> tuple[list[Path], Path]:
    """Build and sign N agreements; return the signed PDFs and the test root."""
    from qa_builder.builds.batch import build_many
    from qa_builder.builds.pipeline import BuildSettings
    from qa_builder.library.loader import load_library
    from qa_builder.render.docx import default_template_path
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest, sign_pdf
    from qa_builder.testing.pki import create_test_pki
    from qa_builder.testing.services import TestPkiServer

    source, library = SCENARIOS[scenario]
    (work / "answers-in").mkdir()
    answers = make_answers(work / "answers-in", n, source)
    built = work / "built"
    settings = BuildSettings(out_dir=built, library=load_library(Path(library)) if library else load_library(),
                             template=default_template_path(), fmt="pdf")
    with PdfConverter(workers=2) as pool:
        items = build_many(answers, settings, jobs=2, converter=pool)
    failed = [i.error for i in items if i.error]
    if failed:
        raise SystemExit(f"build failed: {failed[0]}")
    pki = create_test_pki(work / "pki", port=_free_port())
    sponsor = load_pkcs12_key(pki.p12("sponsor"), pki.passphrase())
    acceptor = load_pkcs12_key(pki.p12("contract-acceptor"), pki.passphrase())
    signed: list[Path] = []
    with TestPkiServer(pki):
        for pdf in sorted(built.glob("*.pdf")):
            first = pdf.with_suffix(".certified.pdf")
            sign_pdf(pdf, first, SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True,
                                                  level="B-LT", tsa_url=pki.tsa_url, trust_roots=(pki.root_pem,)),
                     sponsor)
            target = pdf.with_suffix(".signed.pdf")
            sign_pdf(first, target, SignatureRequest(field="sig_contract_acceptor_1", meaning="approval",
                                                     level="B-LTA", tsa_url=pki.tsa_url,
                                                     trust_roots=(pki.root_pem,)), acceptor)
            signed.append(target)
    return signed, pki.root_pem


def time_ours(files: list[Path], root: Path, jobs: int) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa_builder", "verify", "--json", "--jobs", str(jobs),
                           "--trust", str(root), *map(str, files)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"qa-builder verify did not pass every file (exit {done.returncode}): {done.stderr[-500:]}")
    return wall


IN_PROCESS = """
import statistics, sys, time
from pathlib import Path
from qa_builder.verify.pdf import verify_pdf
from qa_builder.verify.policy import VerifySettings, load_policy
policy = load_policy(VerifySettings(trust_roots=(Path(sys.argv[1]),)))
path = Path(sys.argv[2])
times = []
for _ in range(4):
    start = time.perf_counter()
    result = verify_pdf(path, path.read_bytes(), policy)
    times.append(time.perf_counter() - start)
    assert result.indication == "TOTAL-PASSED", result
print(times[0], statistics.median(times[1:]))
"""

BATCH = """
import sys, time
from pathlib import Path
from qa_builder.verify.api import verify
from qa_builder.verify.policy import VerifySettings
judge = sys.argv[2] == "yes"
files = [Path(p) for p in sys.argv[4:]]
start = time.perf_counter()
report = verify(files, VerifySettings(trust_roots=(Path(sys.argv[1]),), jobs=int(sys.argv[3]), judge_changes=judge))
took = time.perf_counter() - start
assert all(r.indication == "TOTAL-PASSED" for r in report.results), [r.indication for r in report.results]
print(took)
"""


def prepare_demo(work: Path) -> tuple[Path, Path]:
    """Run the demo (build, sign by four signatories, document timestamp); return its signed PDF and root."""
    from qa_builder.demo import run_demo

    out = work / "demo"
    run_demo(out, force=True)
    return next(out.glob("*.signed.pdf")), out / "test-pki" / "root-ca.pem"


def time_demo(signed: Path, root: Path) -> tuple[float, float, float]:
    """(first call, warm median) in one process, and the CLI's median wall time over 3 runs."""
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(root), str(signed)], capture_output=True,
                          text=True, check=True)
    first, warm = (float(v) for v in done.stdout.split())
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "qa_builder", "verify", "--trust", str(root), str(signed)],
                             capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if cli.returncode != 0:
            raise SystemExit(f"qa-builder verify did not pass the demo agreement: {cli.stdout[-500:]}")
    return first, warm, sorted(walls)[1]


def time_batch(files: list[Path], root: Path, jobs: int, *, judge_changes: bool) -> float:
    done = subprocess.run([sys.executable, "-c", BATCH, str(root), "yes" if judge_changes else "no", str(jobs),
                           *map(str, files)], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def time_pdfsig(files: list[Path]) -> float:
    start = time.perf_counter()
    for pdf in files:
        done = subprocess.run(["pdfsig", "-nocert", str(pdf)], capture_output=True, text=True)
        if "Signature is Valid" not in done.stdout:
            raise SystemExit(f"pdfsig did not find {pdf.name} valid")
    return time.perf_counter() - start


def time_pyhanko(files: list[Path], root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", PYHANKO_ONLY, str(root), *map(str, files)], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="signed agreements (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="qa-builder verify --jobs (default 2)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="example")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-verify-"))
    try:
        demo, demo_root = prepare_demo(work)
        first, warm, cli = time_demo(demo, demo_root)
        print(f"demo's signed agreement ({demo.stat().st_size // 1024} KiB, 4 signatures + document timestamp):")
        print(f"  in process: {warm:5.2f} s warm (first call {first:.2f} s)  target <= 1.0 s  "
              f"{'met' if warm <= 1.0 else 'NOT met'}")
        print(f"  CLI:        {cli:5.2f} s                         target <= 1.5 s  "
              f"{'met' if cli <= 1.5 else 'NOT met'}")
        files, root = prepare(work, args.n, args.scenario)
        size = sum(f.stat().st_size for f in files) / len(files) / 1024
        print(f"machine: {os.cpu_count()} cores; {len(files)} two-signature agreements ('{args.scenario}', "
              f"{size:.0f} KiB each, B-LT + B-LTA)")
        ours = time_ours(files, root, args.jobs)
        pdfsig = time_pdfsig(files)
        pyhanko = time_pyhanko(files, root)
        judged = time_batch(files, root, args.jobs, judge_changes=True)
        unjudged = time_batch(files, root, args.jobs, judge_changes=False)
        n = len(files)
        print(f"qa-builder verify --jobs {args.jobs}  {ours:7.2f} s  ({ours / n * 1000:6.0f} ms/file)")
        print(f"pdfsig, one process per file   {pdfsig:7.2f} s  ({pdfsig / n * 1000:6.0f} ms/file)")
        print(f"pyHanko validate_pdf_signature {pyhanko:7.2f} s  ({pyhanko / n * 1000:6.0f} ms/file, one process, "
              "sequential)")
        print(f"qa-builder / pdfsig: {ours / pdfsig:.1f}× the time; qa-builder / pyHanko alone: {ours / pyhanko:.2f}×")
        print(f"one verify() call, {n} files: with difference analysis {judged:.2f} s, without {unjudged:.2f} s: "
              f"{judged / unjudged:.2f}× (target <= 3×) {'met' if judged <= 3 * unjudged else 'NOT met'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
