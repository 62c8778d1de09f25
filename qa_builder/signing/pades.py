"""PAdES signing (the only pyhanko.sign user for PDFs): certify first, approve into pre-created fields."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields as sig_fields
from pyhanko.sign import signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.ades.cades_asn1 import CommitmentTypeIndication
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import constants as signer_constants
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import read_certification_data
from pyhanko_certvalidator import ValidationContext

from qa_builder.errors import Hint, InputError, Remedy, SigningError, SigningInputError
from qa_builder.files import atomic_writer, read_small_file
from qa_builder.signing.appearance import Manifestation, stamp_style
from qa_builder.signing.cms import signature_timestamp_time, token_info
from qa_builder.signing.keys import SigningKey, check_not_revoked, signer_key_usage
from qa_builder.signing.pdfa import PDF17, PdfAClaim, check_pdfa_kept, pdfa_claim
from qa_builder.signing.trust import load_trust_roots
from qa_builder.signing.tsa import check_tsa_url, is_tsa_failure, timestamper_for, tsa_failure

Meaning = Literal["authorship", "review", "approval", "responsibility"]
Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
MEANINGS: tuple[Meaning, ...] = ("authorship", "review", "approval", "responsibility")
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")
OfflineCheck = Callable[[bytes, str, tuple[Path, ...]], list[str]]
"""Why the signature in a field of the signed PDF bytes does not verify offline with the trust roots alone (an empty
list when it does): the verifier's `qa_builder.verify.pdf.offline_problems`, passed in by the callers that compose
signing with verification (signing sits below verification and does not import it)."""
# ETSI commitment types (RFC 5126 / EN 319 122-1) for the Part 11 meanings; /Reason carries the exact meaning.
COMMITMENT_TYPES: dict[Meaning, str] = {
    "authorship": "proof_of_origin",
    "review": "proof_of_receipt",
    "approval": "proof_of_approval",
    "responsibility": "proof_of_approval",
}


@dataclass(frozen=True)
class SignatureRequest:
    """What to sign, how, and with which evidence."""

    field: str
    meaning: Meaning
    certify: bool = False
    level: Level = "B-B"
    tsa_url: str | None = None
    trust_roots: tuple[Path, ...] = ()
    check_revocation: bool = False
    """Ask the OCSP responder / CRL whether the certificate is revoked before signing; done anyway whenever
    `trust_roots` are given (they let the status be checked), so this only asks for the trust roots to be given."""


@dataclass(frozen=True)
class FieldState:
    """A signature field of a PDF: its name, whether it is signed, and for whom it is meant."""

    name: str
    signed: bool
    intended_for: str


@dataclass(frozen=True)
class SignatureOutcome:
    """What was signed."""

    field: str
    signer: str
    meaning: Meaning
    signed_at: dt.datetime
    time_source: Literal["tsa", "local clock"]
    level: Level
    certified: bool
    intended_for: str = ""

    @property
    def signer_is_intended(self) -> bool:
        """False when the field names another signatory than the certificate's printed name."""
        return not self.intended_for or self.intended_for.split(",", 1)[0].strip() == self.signer


def reason_text(meaning: Meaning) -> str:
    """The /Reason entry: the meaning of the signature in words."""
    return f"{meaning.capitalize()} (meaning of signature, 21 CFR 11.50)"


def list_signature_fields(pdf: Path) -> list[FieldState]:
    """The signature fields of a PDF, signed or not, with their intended signatory (/TU).

    Raises:
        SigningInputError: the file is not a readable PDF, or its form fields cannot be read.
    """
    with _open(pdf) as reader:
        states = []
        try:
            _check_form_size(reader, pdf)
            for name, value, ref in sig_fields.enumerate_sig_fields(reader):
                field = ref.get_object()
                states.append(FieldState(name=str(name), signed=value is not None,
                                         intended_for=str(field.get("/TU", "")) if "/TU" in field else ""))
        except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            raise SigningInputError(f"{pdf}: its form fields cannot be read ({exc})") from exc
        return states


def sign_pdf(source: Path, target: Path, request: SignatureRequest, key: SigningKey, *,
             force: bool = False, offline_check: OfflineCheck | None = None) -> SignatureOutcome:
    """Sign `source` into `target` (an incremental update, written atomically).

    With `offline_check`, a B-LT/B-LTA signature is written only once it verifies offline with the trust roots
    alone. `qa_builder.sign_pdf` and `qa_builder.sign_file` pass the verifier's check; this stage function, which
    cannot import the verifier, skips it when none is given.

    One instant is taken for the signature, after the stamp's font is prepared: the stamp prints it, pyHanko writes
    it as ``/M``, and the outcome returns it (PAdES puts no CMS signing-time attribute: EN 319 142-1 takes the
    claimed time from ``/M``).  With a TSA it is the TSA's clock, and the stamp says so.

    Raises:
        SigningError: the field is missing or already signed, the document forbids changes, a certification
            is asked for after another signature, the level lacks its TSA or trust roots, the certificate is
            revoked (checked whenever trust roots are given, as B-LT/B-LTA require), the key's algorithm or the
            result would break the document's PDF/A claim, or signing failed.
    """
    _check_request(request)
    if target.exists() and not force:
        raise SigningInputError(f"{target} already exists", hint=Hint(Remedy.OTHER_OUTPUT_OR_REPLACE))
    data = _read(source)
    long_term = request.level in ("B-LT", "B-LTA")
    if long_term or request.check_revocation or request.trust_roots:  # a revoked certificate never signs
        check_not_revoked(key, _trust_roots(request))
    with io.BytesIO(data) as handle:
        reader = _reader(handle, source)
        intended_for = _check_document(reader, source, request)
        claim = _claim(data, source)
        keep_pdf17 = claim is not None and claim.max_version <= PDF17
        if claim is not None and keep_pdf17:
            _check_algorithm_keeps(key, claim, source)
        timestamper = timestamper_for(request.tsa_url) if request.tsa_url else None
        identity = key.identity
        stamp_style(_manifestation(key, request, dt.datetime.now(dt.UTC), "local clock"))  # font ready first
        signed_at, time_source = _signing_time(timestamper)
        metadata = signers.PdfSignatureMetadata(
            field_name=request.field,
            md_algorithm="sha256",
            subfilter=sig_fields.SigSeedSubFilter.PADES,
            reason=reason_text(request.meaning),
            name=identity.common_name,
            certify=request.certify,
            docmdp_permissions=sig_fields.MDPPerm.FILL_FORMS,
            signer_key_usage=signer_key_usage(identity),
            embed_validation_info=long_term,
            use_pades_lta=request.level == "B-LTA",
            validation_context=_validation_context(request) if long_term else None,
            cades_signed_attr_spec=CAdESSignedAttrSpec(
                commitment_type=CommitmentTypeIndication({"commitment_type_id": COMMITMENT_TYPES[request.meaning]})),
        )
        pdf_signer = _PdfSigner(metadata, key.signer, timestamper=timestamper,
                                stamp_style=stamp_style(_manifestation(key, request, signed_at, time_source)),
                                signing_time=signed_at, keep_pdf17=keep_pdf17)
        output = io.BytesIO()
        try:
            pdf_signer.sign_pdf(IncrementalPdfFileWriter.from_reader(reader), existing_fields_only=True,
                                output=output)
        except Exception as exc:
            if request.tsa_url and is_tsa_failure(exc):
                raise SigningError(f"{source}: {tsa_failure(request.tsa_url, exc)}; nothing was written") from exc
            if isinstance(exc, PyHankoSigningError | PdfError | ValueError):
                raise SigningError(f"{source}: signing field '{request.field}' failed: {exc}") from exc
            raise
    signed = output.getvalue()
    _self_check(signed, request.field, source)
    if claim is not None:
        _check_claim_kept(signed, claim, source)
    if request.level in ("B-LT", "B-LTA") and offline_check is not None:
        _check_offline(signed, request, source, offline_check)
    with atomic_writer(target, replace=force) as out:
        out.write(signed)
    return SignatureOutcome(field=request.field, signer=identity.common_name, meaning=request.meaning,
                            signed_at=signed_at, time_source=time_source, level=request.level,
                            certified=request.certify, intended_for=intended_for)


def _manifestation(key: SigningKey, request: SignatureRequest, signed_at: dt.datetime,
                   time_source: str) -> Manifestation:
    identity = key.identity
    return Manifestation(
        printed_name=identity.common_name, title=identity.title, organisation=identity.organisation,
        meaning=request.meaning, signed_at=signed_at, issuer=identity.issuer_common_name,
        serial=identity.serial_hex, time_source="timestamp authority" if time_source == "tsa" else "")


class _PdfSigner(signers.PdfSigner):
    """pyHanko's PdfSigner with one given signing instant, and PDF 1.7 kept for PDF/A-1/2/3 documents.

    pyHanko takes ``/M`` from its own clock when its signing session starts, after the appearance (and its font)
    was prepared; here the session takes the instant the stamp shows.  For the version rule see
    ``qa_builder.signing.pdfa``.
    """

    def __init__(self, *args: Any, signing_time: dt.datetime, keep_pdf17: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time
        self._keep_pdf17 = keep_pdf17

    def init_signing_session(self, pdf_out: BasePdfFileWriter,
                             existing_fields_only: bool = False) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session

    def register_extensions(self, pdf_out: BasePdfFileWriter, *, md_algorithm: str) -> None:
        if not self._keep_pdf17:
            super().register_extensions(pdf_out, md_algorithm=md_algorithm)
            return
        # PAdES in PDF 1.7: the ESIC extension alone (pyHanko would add ISO/TS 32002 and /Version 2.0 for ECDSA)
        pdf_out.ensure_output_version(version=PDF17)  # type: ignore[no-untyped-call]
        pdf_out.register_extension(signer_constants.ESIC_EXTENSION_1)


def _claim(data: bytes, source: Path) -> PdfAClaim | None:
    """The document's PDF/A claim, read with a reader of its own (see ``pdfa_claim``)."""
    try:
        return pdfa_claim(PdfFileReader(io.BytesIO(data), strict=False))
    except (PdfError, ValueError, KeyError) as exc:
        raise SigningError(f"{source}: its XMP metadata cannot be read ({exc})") from exc


def _check_algorithm_keeps(key: SigningKey, claim: PdfAClaim, source: Path) -> None:
    """Refuse a key whose signature algorithm exists only in PDF 2.0 (ISO/TS 32002: EdDSA) for a PDF 1.x claim."""
    try:
        algorithm = key.signer.get_signature_mechanism_for_digest("sha256").signature_algo
    except (PyHankoSigningError, ValueError):
        return
    if algorithm in ("ed25519", "ed448"):
        raise SigningInputError(f"{source}: is {claim}, based on PDF 1.7, and an {algorithm.capitalize()} "
                                "signature needs PDF 2.0 (ISO/TS 32002); sign with an RSA or ECDSA key")


def _check_claim_kept(signed: bytes, claim: PdfAClaim, source: Path) -> None:
    problems = check_pdfa_kept(signed, claim)
    if problems:
        raise SigningError(f"{source}: the signed file would no longer be {claim}: {'; '.join(problems)}; "
                           "nothing was written")


def _check_request(request: SignatureRequest) -> None:
    if request.meaning not in MEANINGS:
        raise SigningInputError(f"meaning '{request.meaning}' is not one of {', '.join(MEANINGS)}")
    if request.tsa_url:
        check_tsa_url(request.tsa_url)
    if request.level not in LEVELS:
        raise SigningInputError(f"level '{request.level}' is not one of {', '.join(LEVELS)}")
    if request.level == "B-B" and request.tsa_url:
        # a timestamp authority makes the signature B-T: signing it and calling it B-B would misreport the level
        raise SigningInputError("level B-B has no timestamp, but a timestamp authority was given: ask for level B-T "
                                "(or higher) to have the signature timestamped, or leave out the timestamp authority")
    if request.level != "B-B" and not request.tsa_url:
        raise SigningInputError(f"level {request.level} needs a timestamp authority",
                                hint=Hint(Remedy.TIMESTAMP_AUTHORITY))
    if request.level in ("B-LT", "B-LTA") and not request.trust_roots:
        raise SigningInputError(f"level {request.level} embeds the certificate chain's revocation data and needs the "
                                "trust root", hint=Hint(Remedy.TRUST_ROOT))
    if request.check_revocation and not request.trust_roots:
        raise SigningInputError("checking revocation needs the trust root", hint=Hint(Remedy.TRUST_ROOT))


MAX_PDF_BYTES = 64 * 1024 * 1024
"""Bytes at most of a PDF to sign or list (an agreement is about 1 MiB; with scanned annexes some tens). Reading
a hostile 17 MB PDF (200,000 form fields) took pyHanko 14 s; at the 1 GiB allowed before, about 15 minutes."""


def _read(source: Path) -> bytes:
    try:
        return read_small_file(source, MAX_PDF_BYTES)  # a FIFO or device is refused, not waited on
    except FileNotFoundError as exc:
        raise SigningInputError(f"{source}: PDF not found") from exc
    except OSError as exc:
        raise SigningInputError(f"{source}: cannot be read ({exc.strerror})") from exc


def _reader(handle: io.BytesIO, source: Path) -> PdfFileReader:
    try:  # reading /Encrypt parses the trailer's encryption settings, which can be malformed too
        reader = PdfFileReader(handle, strict=True)
        encrypted = reader.encrypted
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        raise SigningInputError(f"{source}: is not a readable PDF ({exc})") from exc
    if encrypted:
        raise SigningInputError(f"{source}: is encrypted; qa-builder signs only unencrypted agreements")
    return reader


class _open:
    """Context manager yielding a strict reader over a PDF file's bytes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle = io.BytesIO(_read(path))

    def __enter__(self) -> PdfFileReader:
        return _reader(self._handle, self._path)

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


MAX_FORM_FIELDS = 2_000
"""Form fields and widgets at most in a PDF to sign or list (an agreement has one per signatory, at most 50).
Session 6 attack: a received PDF of 200,000 signature fields (17 MB) took 62 s and 670 MB to list."""


def _check_form_size(reader: PdfFileReader, source: Path) -> None:
    """Refuse a form of more than MAX_FORM_FIELDS fields (counting /Kids), walking at most that many.

    Raises:
        SigningInputError: the form is larger.
    """
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return
    pending, seen, count = [fields], set(), 0
    while pending:
        for item in pending.pop():
            count += 1
            if count > MAX_FORM_FIELDS:
                raise SigningInputError(f"{source}: holds more than {MAX_FORM_FIELDS:,} form fields; an agreement "
                                        "has one per signatory, so this is not one to sign")
            key = (item.idnum, item.generation) if isinstance(item, generic.IndirectObject) else id(item)
            node = item.get_object() if isinstance(item, generic.IndirectObject) else item  # type: ignore[no-untyped-call]
            if key in seen or not isinstance(node, generic.DictionaryObject):
                continue
            seen.add(key)
            kids = node.get("/Kids")
            kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids  # type: ignore[no-untyped-call]
            if isinstance(kids, generic.ArrayObject):
                pending.append(kids)


def _check_document(reader: PdfFileReader, source: Path, request: SignatureRequest) -> str:
    """Refuse what would break the signature sequence; return the field's intended signatory (/TU)."""
    try:
        _check_form_size(reader, source)
        found = list(sig_fields.enumerate_sig_fields(reader))
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise SigningInputError(f"{source}: its form fields cannot be read ({exc})") from exc
    names = {str(name): value for name, value, _ref in found}
    if request.field not in names:
        listed = ", ".join(names) or "none"
        raise SigningInputError(f"{source}: has no signature field named '{request.field}' (its fields: {listed}); "
                                "fields must exist before the first signature")
    if names[request.field] is not None:
        raise SigningInputError(f"{source}: field '{request.field}' is already signed")
    signed_count = sum(value is not None for value in names.values())
    certification = read_certification_data(reader)
    if certification is not None and certification.permission == sig_fields.MDPPerm.NO_CHANGES:
        raise SigningInputError(f"{source}: is certified with 'no changes allowed'; any further signature would "
                                "invalidate the certification")
    if request.certify and signed_count:
        raise SigningInputError(f"{source}: already has {signed_count} signature(s); a certification signature must be "
                                "the first one (sign without --certify to approve)")
    field = next(ref.get_object() for name, _value, ref in found if str(name) == request.field)
    return str(field.get("/TU", "")) if "/TU" in field else ""


def _signing_time(timestamper: HTTPTimeStamper | None) -> tuple[dt.datetime, Literal["tsa", "local clock"]]:
    """The time shown on the stamp: the TSA's clock when a TSA is used, else the local clock (UTC)."""
    if timestamper is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0), "local clock"
    try:
        token = asyncio.run(timestamper.async_timestamp(hashlib.sha256(b"qa-builder time check").digest(),
                                                        "sha256"))
    except Exception as exc:  # aiohttp, pyHanko and ASN.1 errors alike: the URL and the reason
        raise SigningError(tsa_failure(timestamper.url, exc)) from exc
    generated: dt.datetime = token_info(token)["gen_time"].native
    return generated.astimezone(dt.UTC).replace(microsecond=0), "tsa"


def _validation_context(request: SignatureRequest) -> ValidationContext:
    from qa_builder.signing.fetch import owned_bounded_fetcher_backend

    return ValidationContext(trust_roots=_trust_roots(request), allow_fetching=True, revocation_mode="require",
                             time_tolerance=dt.timedelta(seconds=30), fetcher_backend=owned_bounded_fetcher_backend())


def _trust_roots(request: SignatureRequest) -> list[asn1_x509.Certificate]:
    try:
        return load_trust_roots(request.trust_roots, one_per_file=True)
    except InputError as exc:  # a signature that could not be made: the error signing callers handle
        raise SigningInputError(str(exc)) from exc


def _self_check(signed: bytes, field: str, source: Path) -> None:
    """The new signature must be intact and cryptographically valid before the file is written.

    Trust is the verifier's question; this recomputes the digest over the new signature's byte ranges and
    checks the signature value against the signer's certificate, reading only that signature (no PDF parse).
    """
    # The new signature is the last /Sig written (B-LTA adds a document timestamp after it).
    for found in reversed(list(_BYTE_RANGE.finditer(signed))):
        start1, length1, start2, length2 = (int(x) for x in found.groups())
        contents = signed[start1 + length1:start2].strip(b"<> \r\n")
        try:
            # /Contents is zero-padded after the DER; a non-strict load reads one value and ignores the padding
            signed_data = cms.ContentInfo.load(bytes.fromhex(contents.decode("ascii")), strict=False)["content"]
        except (ValueError, TypeError):
            continue
        if signed_data["encap_content_info"]["content_type"].native != "data":
            continue  # a document timestamp, not our signature
        signer_info = signed_data["signer_infos"][0]
        certificate = _signer_certificate(signed_data, signer_info)
        digest = hashlib.sha256(signed[start1:start1 + length1] + signed[start2:start2 + length2]).digest()
        intact, valid = validate_sig_integrity(signer_info, certificate, "data", digest)
        if not (intact and valid):
            raise SigningError(f"{source}: the new signature in '{field}' does not verify; nothing was written")
        return
    raise SigningError(f"{source}: the new signature in '{field}' was not found; nothing was written")


def _check_offline(signed: bytes, request: SignatureRequest, source: Path, offline_check: OfflineCheck) -> None:
    """A B-LT/B-LTA signature must verify TOTAL-PASSED offline with the trust root alone before it is written."""
    problems = offline_check(signed, request.field, request.trust_roots)
    if problems:
        raise SigningError(f"{source}: the new {request.level} signature in '{request.field}' does not verify "
                           f"offline with the given root ({'; '.join(problems)}); nothing was written")


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _signer_certificate(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> asn1_x509.Certificate:
    sid = signer_info["sid"]
    for choice in signed_data["certificates"]:
        certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (certificate.issuer == sid.chosen["issuer"]
                    and certificate.serial_number == sid.chosen["serial_number"].native):
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    raise SigningError("the new signature does not carry its signer's certificate")


# --- archive timestamp renewal (PAdES B-LTA, ETSI EN 319 142-1 5.5) ------------------------------------------------


@dataclass(frozen=True)
class RenewalOutcome:
    """What renewing the archive timestamp did.

    Attributes:
        previous_at: Time of the newest document timestamp before renewal; None when the file had none (B-LT).
        previous_tsa_expiry: When that timestamp's TSA certificate expires; None when there was none.
        renewed_at: Time of the new document timestamp (the TSA's clock, UTC).
        tsa_expiry: When the new timestamp's TSA certificate expires: renew again before then.
    """

    previous_at: dt.datetime | None
    previous_tsa_expiry: dt.datetime | None
    renewed_at: dt.datetime
    tsa_expiry: dt.datetime


def renew_archive_timestamp(source: Path, target: Path, tsa_url: str | None, trust_roots: tuple[Path, ...], *,
                            force: bool = False, offline_check: OfflineCheck | None = None) -> RenewalOutcome:
    """Extend a signed agreement's proof of existence: validation data for its newest document timestamp, then a new
    document timestamp over everything (pyHanko ``PdfTimeStamper.update_archival_timestamp_chain``).

    Do this while the newest document timestamp still validates, i.e. before its TSA certificate expires or its
    algorithms weaken; the chain of archive timestamps then keeps every earlier signature verifiable.  A B-LT file
    without a document timestamp gets its first one (it becomes B-LTA).

    Args:
        source: The signed PDF.
        target: Where to write the renewed PDF (an incremental update of `source`, written atomically).
        tsa_url: RFC 3161 timestamp authority for the new timestamp.
        trust_roots: Trust anchors of the TSA chains (PEM/DER files).
        force: Replace `target` if it exists.
        offline_check: The verifier's offline check (see `OfflineCheck`): with it, the renewed file is written
            only once every signature in it verifies offline with `trust_roots` alone.

    Returns:
        The times and TSA certificate expiries before and after.

    Raises:
        SigningError: no TSA or trust root, no signature in the file, the newest document timestamp no longer
            validates, the TSA or revocation data cannot be reached, or the result would break the PDF/A claim.
    """
    if not tsa_url:
        raise SigningInputError("renewing the archive timestamp needs a timestamp authority",
                                hint=Hint(Remedy.TIMESTAMP_AUTHORITY))
    if not trust_roots:
        raise SigningInputError("renewing the archive timestamp needs the trust root of the timestamp authorities",
                                hint=Hint(Remedy.TRUST_ROOT))
    if target.exists() and not force:
        raise SigningInputError(f"{target} already exists", hint=Hint(Remedy.OTHER_OUTPUT_OR_REPLACE))
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.validation import validate_pdf_timestamp

    data = _read(source)
    request = SignatureRequest(field="", meaning="approval", level="B-LTA", tsa_url=tsa_url, trust_roots=trust_roots)
    context = _validation_context(request)
    with io.BytesIO(data) as handle:
        embedded = _reader(handle, source).embedded_signatures  # first: not a PDF is bad input (exit 2)
        claim = _claim(data, source)
        fields = [str(sig.field_name) for sig in embedded if sig.sig_object_type == "/Sig"]
        if not fields:
            raise SigningInputError(f"{source}: has no signature whose proof of existence could be renewed")
        untimed = [str(sig.field_name) for sig in embedded if sig.sig_object_type == "/Sig"
                   and signature_timestamp_time(sig.signer_info) is None]
        if untimed:
            raise SigningInputError(f"{source}: the signature in '{untimed[0]}' has no signature timestamp (level "
                                    "B-B), so no time proves when it was made; only a timestamped signature (B-T or "
                                    "higher) can be kept verifiable by archive timestamps: have it signed again at "
                                    "B-LT or B-LTA")
        if not any(sig.sig_object_type == "/DocTimeStamp" for sig in embedded):
            # B-T (or B-LT): first the signatures' own validation data, which the first archive timestamp covers
            data = _with_signature_validation_data(data, source, context, tsa_url)
    with io.BytesIO(data) as handle:
        reader = _reader(handle, source)
        embedded = reader.embedded_signatures
        previous = [sig for sig in embedded if sig.sig_object_type == "/DocTimeStamp"]
        previous_at = previous_expiry = None
        if previous:
            newest = previous[-1]
            status = validate_pdf_timestamp(newest, validation_context=_validation_context(request))
            previous_at, previous_expiry = _timestamp_facts(newest.signed_data)
            if not (status.intact and status.valid and status.trusted):
                raise SigningInputError(f"{source}: the newest archive timestamp ({previous_at:%Y-%m-%d %H:%M:%S} "
                                        f"UTC) does not validate now ({status.summary()}); it had to be renewed "
                                        f"while it was valid, before its TSA certificate expired "
                                        f"({previous_expiry:%Y-%m-%d})")
        output = io.BytesIO()
        try:
            PdfTimeStamper(timestamper_for(tsa_url)).update_archival_timestamp_chain(
                reader, context, in_place=False, output=output)
        except Exception as exc:
            if is_tsa_failure(exc):
                raise SigningError(f"{source}: the archive timestamp could not be renewed: "
                                   f"{tsa_failure(tsa_url, exc)}") from exc
            if isinstance(exc, PyHankoSigningError | PdfError | ValueError):
                raise SigningError(f"{source}: the archive timestamp could not be renewed: {exc}") from exc
            raise SigningError(f"{source}: the archive timestamp could not be renewed ({type(exc).__name__}: "
                               f"{exc})") from exc
    renewed = output.getvalue()
    if claim is not None:
        _check_claim_kept(renewed, claim, source)
    if offline_check is not None:
        _check_renewed_offline(renewed, fields, trust_roots, source, offline_check)
    with io.BytesIO(renewed) as handle:
        newest_now = [sig for sig in PdfFileReader(handle).embedded_signatures
                      if sig.sig_object_type == "/DocTimeStamp"][-1]
        renewed_at, tsa_expiry = _timestamp_facts(newest_now.signed_data)
    with atomic_writer(target, replace=force) as out:
        out.write(renewed)
    return RenewalOutcome(previous_at=previous_at, previous_tsa_expiry=previous_expiry, renewed_at=renewed_at,
                          tsa_expiry=tsa_expiry)


def _with_signature_validation_data(data: bytes, source: Path, context: ValidationContext, tsa_url: str) -> bytes:
    """`data` with the chain, OCSP responses and CRLs of each signature (and of its signature timestamp) in the DSS,
    one incremental update per signature (pyHanko ``add_validation_info``): what B-LT adds at signing time.

    Raises:
        SigningError: the revocation data cannot be fetched, or a signer's certificate is revoked.
    """
    from pyhanko.sign.validation import add_validation_info

    count = sum(sig.sig_object_type == "/Sig" for sig in PdfFileReader(io.BytesIO(data)).embedded_signatures)
    for index in range(count):
        sig = [s for s in PdfFileReader(io.BytesIO(data)).embedded_signatures if s.sig_object_type == "/Sig"][index]
        output = io.BytesIO()
        try:
            add_validation_info(sig, context, output=output)
        except Exception as exc:
            if is_tsa_failure(exc):
                raise SigningError(f"{source}: the archive timestamp could not be renewed: "
                                   f"{tsa_failure(tsa_url, exc)}") from exc
            raise SigningError(f"{source}: the validation data of the signature in '{sig.field_name}' could not be "
                               f"gathered ({type(exc).__name__}: {exc}); nothing was written") from exc
        data = output.getvalue()
    return data


def _check_renewed_offline(renewed: bytes, fields: list[str], trust_roots: tuple[Path, ...], source: Path,
                           offline_check: OfflineCheck) -> None:
    """Every signature of a renewed file must verify TOTAL-PASSED offline with the trust roots alone."""
    for field in fields:
        problems = offline_check(renewed, field, trust_roots)
        if problems:
            raise SigningError(f"{source}: after renewing the archive timestamp the signature in '{field}' would "
                               f"not verify offline with the given root ({'; '.join(problems)}); nothing was "
                               "written")


def _timestamp_facts(signed_data: cms.SignedData) -> tuple[dt.datetime, dt.datetime]:
    """(time of a timestamp token, expiry of its TSA certificate), both UTC."""
    info = signed_data["encap_content_info"]["content"].parsed
    generated: dt.datetime = info["gen_time"].native.astimezone(dt.UTC)
    certificate = _signer_certificate(signed_data, signed_data["signer_infos"][0])
    expiry: dt.datetime = certificate["tbs_certificate"]["validity"]["not_after"].native.astimezone(dt.UTC)
    return generated, expiry
