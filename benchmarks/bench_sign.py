"""Signing benchmark: N agreements signed B-B by qa-builder vs. plain pyHanko loading the key per document.

Both sign the same pre-created field of the same agreement PDF. qa-builder loads and checks the key once per
process and draws the Part 11 stamp with an embedded font; the plain path calls
`SimpleSigner.load_pkcs12` and `signers.sign_pdf` for every document (pyHanko's default stamp, no font).

Usage: python benchmarks/bench_sign.py [--n 30]
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="documents to sign (default 30)")
    args = parser.parse_args()

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from qa_builder.library.loader import load_library
    from qa_builder.pipeline import BuildSettings, build_one
    from qa_builder.render.docx import default_template_path
    from qa_builder.render.pdf import PdfConverter
    from qa_builder.signing.keys import load_pkcs12_key
    from qa_builder.signing.pades import SignatureRequest, sign_pdf
    from qa_builder.signing.testpki import create_test_pki

    work = Path(tempfile.mkdtemp(prefix="qa-bench-sign-"))
    try:
        pki = create_test_pki(work / "pki", port=8799)
        with PdfConverter(workers=1) as converter:
            build_one(ROOT / "examples" / "us-eu-drug-product-cmo.yaml",
                      BuildSettings(out_dir=work, library=load_library(), template=default_template_path()),
                      converter)
        source = next(work.glob("*_v1.pdf"))
        passphrase = pki.passphrase()
        p12 = pki.p12("sponsor")
        request = SignatureRequest(field="sig_sponsor_1", meaning="approval", certify=True)
        print(f"signing {source.name} ({source.stat().st_size // 1024} KiB), field sig_sponsor_1, B-B, N = {args.n}")

        # warm both paths once (imports, font preparation) so the loop measures steady state
        sign_pdf(source, work / "warm.pdf", request, load_pkcs12_key(p12, passphrase), force=True)

        ours: list[float] = []
        start = time.perf_counter()
        for i in range(args.n):
            t = time.perf_counter()
            sign_pdf(source, work / f"ours-{i}.pdf", request, load_pkcs12_key(p12, passphrase), force=True)
            ours.append(time.perf_counter() - t)
        ours_total = time.perf_counter() - start

        plain: list[float] = []
        start = time.perf_counter()
        for i in range(args.n):
            t = time.perf_counter()
            signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase)
            meta = signers.PdfSignatureMetadata(field_name="sig_sponsor_1", subfilter=SigSeedSubFilter.PADES,
                                                certify=True)
            with source.open("rb") as handle:
                out = signers.sign_pdf(IncrementalPdfFileWriter(handle), meta, signer=signer)
            (work / f"plain-{i}.pdf").write_bytes(out.getvalue() if isinstance(out, io.BytesIO) else out.read())
            plain.append(time.perf_counter() - t)
        plain_total = time.perf_counter() - start

        print(f"qa-builder: {ours_total:6.2f} s total, median {statistics.median(ours) * 1000:6.0f} ms/signature")
        print(f"plain:      {plain_total:6.2f} s total, median {statistics.median(plain) * 1000:6.0f} ms/signature")
        print(f"ratio plain / qa-builder: {plain_total / ours_total:.2f}x  (target >= 2x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
