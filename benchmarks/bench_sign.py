"""Signing benchmark: N agreements signed B-B by qa-builder vs. plain pyHanko loading the key per document.

Both sign the same pre-created field of the same agreement PDF, once with the test PKI's EC P-256 key and once
with an RSA-3072 key (the usual size of qualified signing certificates), because key loading costs ~7 ms for
the first and ~140 ms for the second. qa-builder loads and checks the key once per process, draws the Part 11
stamp with an embedded font and verifies the new signature before writing; the plain path calls
`SimpleSigner.load_pkcs12` and `signers.sign_pdf` for every document (pyHanko's default stamp, no font).

Usage: python benchmarks/bench_sign.py [--n 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402

from qa_builder.builds.pipeline import BuildSettings, build_one  # noqa: E402
from qa_builder.library.loader import load_library  # noqa: E402
from qa_builder.render.docx import default_template_path  # noqa: E402
from qa_builder.render.pdf import PdfConverter  # noqa: E402
from qa_builder.signing.keys import load_pkcs12_key  # noqa: E402
from qa_builder.signing.pades import SignatureRequest, sign_pdf  # noqa: E402
from qa_builder.testing.pki import create_test_pki  # noqa: E402

FIELD = "sig_sponsor_1"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="documents to sign per key type (default 30)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-sign-"))
    try:
        pki = create_test_pki(work / "pki", port=8799)
        with PdfConverter(workers=1) as converter:
            build_one(ROOT / "examples" / "us-eu-drug-product-cmo.yaml",
                      BuildSettings(out_dir=work, library=load_library(), template=default_template_path()),
                      converter)
        source = next(work.glob("*_v1.pdf"))
        print(f"signing {source.name} ({source.stat().st_size // 1024} KiB), field {FIELD}, B-B, N = {args.n}")
        for label, p12, passphrase in (("EC P-256", pki.p12("sponsor"), pki.passphrase()),
                                       ("RSA-3072", _rsa_signer(work), b"bench-passphrase")):
            _compare(label, source, p12, passphrase, work, args.n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compare(label: str, source: Path, p12: Path, passphrase: bytes, work: Path, n: int) -> None:
    request = SignatureRequest(field=FIELD, meaning="approval", certify=True)
    sign_pdf(source, work / "warm.pdf", request, load_pkcs12_key(p12, passphrase), force=True)  # imports, fonts

    ours: list[float] = []
    for i in range(n):
        started = time.perf_counter()
        sign_pdf(source, work / f"ours-{i}.pdf", request, load_pkcs12_key(p12, passphrase), force=True)
        ours.append(time.perf_counter() - started)

    plain: list[float] = []
    for i in range(n):
        started = time.perf_counter()
        signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase)
        metadata = signers.PdfSignatureMetadata(field_name=FIELD, subfilter=SigSeedSubFilter.PADES, certify=True)
        with source.open("rb") as handle:
            out = signers.sign_pdf(IncrementalPdfFileWriter(handle), metadata, signer=signer)
        (work / f"plain-{i}.pdf").write_bytes(out.getvalue())
        plain.append(time.perf_counter() - started)

    print(f"{label}: qa-builder {statistics.median(ours) * 1000:4.0f} ms/signature ({sum(ours):5.2f} s), "
          f"plain pyHanko {statistics.median(plain) * 1000:4.0f} ms/signature ({sum(plain):5.2f} s): "
          f"plain / qa-builder = {sum(plain) / sum(ours):.2f}x  (target >= 2x)")


def _rsa_signer(work: Path) -> Path:
    """A self-signed RSA-3072 signing certificate in a PKCS#12 file (B-B needs no chain)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Benchmark Signer (TEST ONLY)")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
                   .sign(key, hashes.SHA256()))
    path = work / "rsa-3072.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"bench", key, certificate, None,
                                                           BestAvailableEncryption(b"bench-passphrase")))
    return path


if __name__ == "__main__":
    main()
