"""Verify benchmark: `qa-builder verify` over N signed two-signature agreements vs. poppler's `pdfsig`, same run.

Setup (not timed): N agreements built from variations of an answers file, each certified by the sponsor
(B-LT) and approved by the contract acceptor (B-LTA, so a document timestamp and DSS follow), with a TEST
PKI whose TSA/OCSP/CRL run on 127.0.0.1.

Timed, all on the same files:
- qa-builder: one `qa-builder verify --jobs J --json --trust ROOT FILES...` process (the full report:
  AdES indication, chain, embedded revocation, difference analysis, PAdES level, Part 11 manifestation);
- pdfsig: one `pdfsig -nocert FILE` process per file, one after another (digest and signature value only:
  no trust to a given root, no DocMDP or difference analysis, no document timestamps);
- pyHanko alone: one process running pyHanko's own `validate_pdf_signature` on every signature with the
  difference analysis (what the library needs for the integrity part of our report, without AdES).

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
    from qa_builder.batch import build_many
    from qa_builder.library.loader import load_library
    from qa_builder.pipeline import BuildSettings
    from qa_builder.render.docx import default_template_path
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest, sign_pdf
    from qa_builder.signing.testpki import create_test_pki
    from qa_builder.signing.testservices import TestPkiServer

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
        files, root = prepare(work, args.n, args.scenario)
        size = sum(f.stat().st_size for f in files) / len(files) / 1024
        print(f"machine: {os.cpu_count()} cores; {len(files)} two-signature agreements ('{args.scenario}', "
              f"{size:.0f} KiB each, B-LT + B-LTA)")
        ours = time_ours(files, root, args.jobs)
        pdfsig = time_pdfsig(files)
        pyhanko = time_pyhanko(files, root)
        n = len(files)
        print(f"qa-builder verify --jobs {args.jobs}  {ours:7.2f} s  ({ours / n * 1000:6.0f} ms/file)")
        print(f"pdfsig, one process per file   {pdfsig:7.2f} s  ({pdfsig / n * 1000:6.0f} ms/file)")
        print(f"pyHanko validate_pdf_signature {pyhanko:7.2f} s  ({pyhanko / n * 1000:6.0f} ms/file, one process, "
              "sequential)")
        print(f"qa-builder / pdfsig: {ours / pdfsig:.1f}× the time (target ≤ 2×); "
              f"qa-builder / pyHanko alone: {ours / pyhanko:.2f}×")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
