"""Verify every signature and document timestamp in one PDF (the pyHanko validation home for PDFs)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from qa_builder.signing.cms import signature_timestamp_time, signature_timestamp_token, token_info
from qa_builder.verify.chains import chain_state, token_chain_state
from qa_builder.verify.changes import (
    CLASS_LEVEL,
    Change,
    Permissions,
    analyse,
    change_sentence,
    change_sentences,
    classes,
    declared_permissions,
    pyhanko_level,
)
from qa_builder.verify.legacy import LEGACY_SUBFILTERS, check_legacy
from qa_builder.verify.longterm import LongTermValidator
from qa_builder.verify.pdf_rules import (
    CHAIN_SENTENCES,
    REVOCATION_UNKNOWN,
    ChainState,
    SignatureFacts,
    baseline_level,
    established_integrity,
    revocation_state,
    timestamp_verdict,
    unusable_verdict,
)
from qa_builder.verify.plain_ecdsa import is_plain_ecdsa, plain_ecdsa_verifies
from qa_builder.verify.policy import Policy
from qa_builder.verify.report import (
    Coverage,
    FileReport,
    SignatureReport,
    TimestampReport,
    Verdict,
    utc_text,
    worst,
)

SUPPORTED_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/ETSI.RFC3161"}
_CERTIFICATION = {1: "no_changes", 2: "fill_forms", 3: "annotate"}
MAX_SIGNATURE_FIELDS = 2_000
"""Signature fields checked per file, as `sign` lists at most (session 6 attack: one field listed 250,000 times in
/AcroForm /Fields made `verify` run 40 s, take 1.6 GB and print a million lines)."""


MAX_REVISIONS = 1_000
"""Revisions (incremental updates) checked per file: a signed agreement has one per signature and timestamp, a
few dozen at most. Attack round 9: 6,000 empty updates made `verify` run past its 120 s bound (3,000: 18 s)."""


def verify_pdf(path: Path, data: bytes, policy: Policy, *, only_field: str | None = None) -> FileReport:
    """Verify the signed PDF `data` read from `path`; problems become report entries, never exceptions.

    `only_field` limits the check to the signature in that field (the others are not reported).
    """
    report = _Report(str(path), hashlib.sha256(data).hexdigest())
    if b"%PDF-" not in data[:1024]:
        return report.fail("is not a PDF (no %PDF- header)", "TOTAL-FAILED", "FORMAT_FAILURE")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            problem = _decrypt(reader)
            if problem:
                return report.fail(problem, "INDETERMINATE", None)
        fields = list(islice(enumerate_sig_fields(reader, filled_status=True), MAX_SIGNATURE_FIELDS + 1))
    except MemoryError:  # the per-file memory bound: reported by the runner
        raise
    except Exception as exc:  # pyHanko raises many types on hostile input; all mean "not a usable PDF"
        return report.fail(f"cannot be read as a PDF: its structure is damaged or not as the PDF standard requires "
                           f"({_sentence(exc)})", "TOTAL-FAILED", "FORMAT_FAILURE")
    if len(fields) > MAX_SIGNATURE_FIELDS:
        return report.fail(f"lists more than {MAX_SIGNATURE_FIELDS:,} signature fields; at most that many are checked "
                           "(a signed agreement has a handful)", "INDETERMINATE", None)
    if reader.xrefs.total_revisions > MAX_REVISIONS:
        return report.fail(f"has {reader.xrefs.total_revisions:,} revisions (incremental updates); at most "
                           f"{MAX_REVISIONS:,} are checked (a signed agreement has one per signature and timestamp)",
                           "INDETERMINATE", None)
    removed = [] if only_field else _removed_signatures(reader, {str(name) for name, _v, _r in fields})
    report.signatures.extend(removed)
    if not fields and not removed:
        return report.fail("has no signatures", "INDETERMINATE", None)
    checker = _Checker(reader, policy, data, fields)
    for name, value, field_ref in fields:
        if only_field is None or str(name) == only_field:
            checker.check_field(str(name), value, field_ref, report)
    return report.finish()


def offline_problems(data: bytes, field: str, trust_roots: tuple[Path, ...]) -> list[str]:
    """Why the signature in `field` of the PDF `data` does not verify TOTAL-PASSED offline with `trust_roots`
    alone (an empty list when it does). `sign` asks this of a new B-LT/B-LTA signature before writing it.

    Raises:
        InputError: a trust root cannot be loaded.
    """
    from qa_builder.verify.policy import VerifySettings, load_policy

    policy = load_policy(VerifySettings(trust_roots=trust_roots))
    result = verify_pdf(Path(field), data, policy, only_field=field)
    if result.error:
        return [f"The file {result.error}."]
    found = [s for s in result.signatures if s.field == field]
    if not found:
        return [f"No signature was found in field '{field}'."]
    signature = found[0]
    if signature.indication == "TOTAL-PASSED":
        return []
    sub = f" [{signature.sub_indication}]" if signature.sub_indication else ""
    return [f"{signature.indication}{sub}", *signature.problems]


@dataclass
class _Report:
    file: str
    sha256: str

    def __post_init__(self) -> None:
        self.signatures: list[SignatureReport] = []
        self.timestamps: list[TimestampReport] = []
        self.placeholders: list[str] = []

    def fail(self, error: str, indication: str, sub: str | None) -> FileReport:
        return FileReport(file=self.file, sha256=self.sha256, kind="pdf", indication=indication,  # type: ignore[arg-type]
                          sub_indication=sub, error=error, signatures=[], doc_timestamps=[])

    def finish(self) -> FileReport:
        if not self.signatures:  # document timestamps prove a time, not that anybody signed
            only = [*(["document timestamps"] if self.timestamps else []),
                    *([f"unsigned placeholder {', '.join(self.placeholders)}"] if self.placeholders else [])]
            return FileReport(file=self.file, sha256=self.sha256, kind="pdf", indication="INDETERMINATE",
                              sub_indication=None, error=f"has no signatures (only {' and '.join(only)})",
                              signatures=[], doc_timestamps=self.timestamps)
        entries: list[SignatureReport | TimestampReport] = [*self.signatures, *self.timestamps]
        verdicts = [Verdict(indication=e.indication, sub_indication=e.sub_indication) for e in entries]
        verdict = worst(verdicts)
        return FileReport(file=self.file, sha256=self.sha256, kind="pdf", indication=verdict.indication,
                          sub_indication=verdict.sub_indication, error=None, signatures=self.signatures,
                          doc_timestamps=self.timestamps)


def _removed_signatures(reader: PdfFileReader, present: set[str]) -> list[SignatureReport]:
    """TOTAL-FAILED entries for signatures that an earlier revision's form, or a page's annotations, hold but the
    final form does not list: a signature removed (stripped) from the document after it was made."""
    found: dict[str, int] = {}
    for revision in range(reader.xrefs.total_revisions - 1):
        try:
            for name, _value, _ref in islice(enumerate_sig_fields(reader.get_historical_resolver(revision),
                                                                  filled_status=True), MAX_SIGNATURE_FIELDS):
                found.setdefault(str(name), revision)
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception:  # a damaged older revision: its signatures are looked for in the others
            continue
    for name in _signed_widgets(reader):
        found.setdefault(name, reader.xrefs.total_revisions - 1)
    short = {name.rsplit(".", 1)[-1] for name in present}
    return [_unusable(name, f"present in revision {revision + 1} was removed from the document's form "
                            "afterwards (signatures present in an earlier revision were removed)", "FORMAT_FAILURE")
            for name, revision in sorted(found.items(), key=lambda item: item[1])
            if name not in present and name.rsplit(".", 1)[-1] not in short]


def _signed_widgets(reader: PdfFileReader) -> list[str]:
    """Names of signed signature widgets found in the pages' /Annots (whether or not the form lists them)."""
    names: list[str] = []
    try:
        pages = reader.root["/Pages"]
        for page_number in range(int(pages.get("/Count", 0))):
            page, *_rest = reader.find_page_for_modification(page_number)  # type: ignore[no-untyped-call]
            for annotation in page.get("/Annots", []) or []:
                widget = annotation.get_object()
                field = widget if "/T" in widget or "/Parent" not in widget else widget["/Parent"].get_object()
                if field.get("/FT") == "/Sig" and field.get("/V") is not None and "/T" in field:
                    names.append(str(field["/T"]))
    except MemoryError:  # the per-file memory bound: reported by the runner
        raise
    except Exception:  # damaged page tree: the form enumeration still stands
        return names
    return names


def _decrypt(reader: PdfFileReader) -> str | None:
    """Open a file encrypted without a user password (signatures stay verifiable); else say why not."""
    try:
        result = reader.decrypt(b"")
    except MemoryError:  # the per-file memory bound: reported by the runner
        raise
    except Exception as exc:  # unsupported security handlers raise assorted errors
        return f"is encrypted in a way that cannot be opened ({_sentence(exc)})"
    if result.status == AuthStatus.FAILED:
        return "is encrypted with a password; decrypt it first to verify its signatures"
    return None


class _Checker:
    """Checks the signatures of one reader, sharing pyHanko's per-revision caches between them."""

    def __init__(self, reader: PdfFileReader, policy: Policy, data: bytes,
                 fields: list[tuple[str, generic.PdfObject, object]]) -> None:
        self.reader = reader
        self.policy = policy
        self.data = data
        self.fields = fields
        self._changes: list[Change] | None = None
        self.visible: dict[int, list[Change]] = {}
        self.dss_revisions = _dss_revisions(reader)
        self.timestamp_revisions: list[int] = []
        self._longterm: LongTermValidator | None = None
        self.integrity_computed: set[int] = set()
        self.sound_cms: dict[int, bool] = {}
        self.validated_at: dt.datetime | None = None

    @property
    def longterm(self) -> LongTermValidator:
        """The offline long-term validator (reads the DSS and document timestamps once, on first use)."""
        if self._longterm is None:
            self._longterm = LongTermValidator(self.reader, self.policy)
        return self._longterm

    def check_field(self, name: str, value: generic.PdfObject, field_ref: object, report: _Report) -> None:
        """Check one filled signature field; every outcome becomes a report entry.

        A signature dictionary or CMS that cannot be parsed is TOTAL-FAILED / FORMAT_FAILURE (damaging bytes
        outside the signed ranges must not improve a verdict). Failures proven before validation stops
        (digest, signature value, changes after signing) are kept; an exception of the validator itself
        after that is INDETERMINATE, not the file's fault.
        """
        try:
            sig_object = value.get_object()  # type: ignore[no-untyped-call]
            if not isinstance(sig_object, generic.DictionaryObject):
                raise ValueError("the field's value is not a signature dictionary")
            subfilter = str(sig_object.get("/SubFilter", ""))
            is_timestamp = sig_object.get("/Type") == "/DocTimeStamp"
            contents = sig_object.get("/Contents")
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception as exc:  # a damaged or hostile signature dictionary (bad hex, deep nesting, ...)
            report.signatures.append(_unusable(name, f"dictionary cannot be parsed ({_sentence(exc)})"))
            return
        if isinstance(contents, bytes) and not contents.strip(b"\x00"):  # /Contents never filled
            report.placeholders.append(name)
            return
        if subfilter in LEGACY_SUBFILTERS:
            report.signatures.append(check_legacy(name, sig_object, subfilter, self.reader))
            return
        try:
            embedded = EmbeddedPdfSignature(self.reader, field_ref, name)  # type: ignore[arg-type]
            _ = embedded.signer_info, embedded.signed_data
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception as exc:
            report.signatures.append(_unusable(name, f"data cannot be read ({_sentence(exc)})"))
            return
        if not is_timestamp and is_plain_ecdsa(embedded.signer_info):
            report.signatures.append(self._plain_ecdsa(embedded))
            return
        proven = self._proven_failure(embedded, is_timestamp, judge_changes=subfilter in SUPPORTED_SUBFILTERS)
        if subfilter not in SUPPORTED_SUBFILTERS:
            # only the CMS (digest, signature value) and the byte coverage can prove an unknown format wrong
            checked = self.sound_cms.get(id(embedded), False)
            soundness = ("its digest and signature value were checked and are sound" if checked
                         else "its digest and signature value could not be checked")
            report.signatures.append(proven or _unusable(
                name, f"uses the SubFilter '{subfilter or 'none'}', which is not a PAdES or PDF signature format "
                      f"qa-builder can validate; {soundness}", "GENERIC", embedded=embedded, indeterminate=True,
                checked=checked))
            return
        try:
            if is_timestamp:
                report.timestamps.append(self._timestamp(embedded))
            else:
                report.signatures.append(self._signature(embedded))
        except SignatureValidationError as exc:  # pyHanko names the ETSI sub-indication itself
            report.signatures.append(proven or _unusable(name, f"cannot be validated ({exc.failure_message})",
                                                         exc.ades_subindication, embedded=embedded))
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception as exc:  # our validator's own failure: not proven to be the file's fault
            report.signatures.append(proven or _unusable(
                name, f"could not be validated: the validator (pyHanko) failed on it, which proves nothing against "
                      f"the file ({_sentence(exc)})", "GENERIC", embedded=embedded,
                indeterminate=True))

    def _proven_failure(self, embedded: EmbeddedPdfSignature, is_timestamp: bool, *,
                        judge_changes: bool = True) -> SignatureReport | None:
        """A TOTAL-FAILED entry when the digest, the signature value or the changes after signing already prove
        the signature fails; None when they do not (or cannot be established)."""
        try:
            self._integrity(embedded)
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except PdfReadError as exc:  # the parser proves the revisions malformed
            return _unusable(str(embedded.field_name), f"cannot be checked because the file's revisions cannot be "
                                                       f"parsed ({_sentence(exc)})", "FORMAT_FAILURE",
                             embedded=embedded)
        except Exception:
            return None
        try:
            content_type = "tst_info" if is_timestamp else "data"
            intact, valid = validate_sig_integrity(embedded.signer_info, embedded.signer_cert, content_type,
                                                   embedded.compute_digest())
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception:
            return None
        name = str(embedded.field_name)
        self.sound_cms[id(embedded)] = bool(intact and valid)
        if intact is False:
            return _unusable(name, "covers bytes that were changed after signing (digest mismatch)", "HASH_FAILURE",
                             embedded=embedded)
        if valid is False:
            return _unusable(name, "value does not verify with the signer's certificate", "SIG_CRYPTO_FAILURE",
                             embedded=embedded)
        info = embedded.summarise_integrity_info()
        if info.get("coverage") not in (SignatureCoverageLevel.ENTIRE_FILE, SignatureCoverageLevel.ENTIRE_REVISION):
            return _unusable(name, "does not cover a whole revision of the file; bytes outside it can change",
                             "FORMAT_FAILURE", embedded=embedded, checked=True)
        if info.get("docmdp_ok") is False and judge_changes:
            diff = info.get("diff_result")
            why = f": {diff}" if isinstance(diff, SuspiciousModification) else ""
            return _unusable(name, f"does not allow the changes made to the document after signing{why}",
                             "FORMAT_FAILURE", embedded=embedded, checked=True)
        return None

    def _plain_ecdsa(self, embedded: EmbeddedPdfSignature) -> SignatureReport:
        """A signature whose value is a plain r‖s ECDSA value (BSI TR-03111), which pyHanko cannot check: digest,
        value, changes after signing and chain are checked here; revocation and time are not (INDETERMINATE)."""
        name = str(embedded.field_name)
        try:
            self._integrity(embedded)
            digests = [a["values"][0].native for a in embedded.signer_info["signed_attrs"]
                       if a["type"].native == "message_digest"]
            intact = bool(digests) and digests[0] == embedded.compute_digest()
            valid = intact and plain_ecdsa_verifies(embedded.signer_info, embedded.signer_cert)
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception as exc:  # not proven either way
            return _unusable(name, f"uses a plain ECDSA value (BSI TR-03111) that could not be checked "
                                   f"({_sentence(exc)})", "GENERIC", embedded=embedded, indeterminate=True)
        if not intact:
            return _unusable(name, "covers bytes that were changed after signing (digest mismatch)", "HASH_FAILURE",
                             embedded=embedded)
        if not valid:
            return _unusable(name, "value (plain ECDSA, BSI TR-03111) does not verify with the signer's "
                                   "certificate", "SIG_CRYPTO_FAILURE", embedded=embedded)
        violations = [c for c in self._after(embedded) if c.violation]
        if embedded.coverage not in (SignatureCoverageLevel.ENTIRE_FILE, SignatureCoverageLevel.ENTIRE_REVISION):
            return _unusable(name, "does not cover a whole revision of the file; bytes outside it can change",
                             "FORMAT_FAILURE", embedded=embedded, checked=True)
        if violations:
            return _unusable(name, f"does not allow the changes made to the document after signing: "
                                   f"{change_sentences(violations)}", "FORMAT_FAILURE", embedded=embedded,
                             checked=True)
        chain = self._chain(embedded)
        checked = ("has a plain ECDSA value (BSI TR-03111), checked by qa-builder: the digest matches and the "
                   "value verifies")
        if chain != "trusted":
            return _unusable(name, f"{checked}; {CHAIN_SENTENCES[chain][0].lower()}{CHAIN_SENTENCES[chain][1:-1]}",
                             "NO_CERTIFICATE_CHAIN_FOUND", embedded=embedded, indeterminate=True, checked=True)
        return _unusable(name, f"{checked} and the certificate chains to a trusted root, but revocation and the "
                               "signing time were not checked for this format", "GENERIC", embedded=embedded,
                         indeterminate=True, checked=True)

    # -- changes after signing -------------------------------------------------------------------------------------

    def _integrity(self, embedded: EmbeddedPdfSignature) -> None:
        """Digest and coverage (pyHanko), then our own difference analysis as the signature's diff result."""
        embedded.compute_integrity_info(skip_diff=True)  # type: ignore[no-untyped-call]
        self.integrity_computed.add(id(embedded))
        after = self._after(embedded)  # none after a whole-file signature; a broken range is judged as coverage
        if embedded.coverage != SignatureCoverageLevel.ENTIRE_REVISION:
            return
        if self.policy.judge_changes and not any(c.violation for c in after):
            self.visible[id(embedded)] = self._visible_changes(embedded, after)
            after = self._after(embedded)
        violations = [c for c in after if c.violation]
        if violations:
            embedded.diff_result = SuspiciousModification(change_sentences(violations))
        else:
            level = max((CLASS_LEVEL[c.kind] for c in after), default=0)
            embedded.diff_result = DiffResult(ModificationLevel(min(level, 3)),
                                              {c.field for c in after if c.field})

    def _after(self, embedded: EmbeddedPdfSignature) -> list[Change]:
        """The changes after this signature's revision (none when it covers the whole file), with the visible
        changes no permitted change explains."""
        if embedded.coverage != SignatureCoverageLevel.ENTIRE_REVISION:
            return []
        return [*self.changes_after(embedded.signed_revision), *self.visible.get(id(embedded), [])]

    def _visible_changes(self, embedded: EmbeddedPdfSignature, after: list[Change]) -> list[Change]:
        """Render the pages filled form fields are on, as signed and as they are now (shadow attacks).

        Only form filling can hide or replace signed content while passing the structural analysis: a signature's
        or annotation's appearance explains its whole widget, and every other change is judged structurally.
        """
        from qa_builder.verify.visual import Region, RegionKind, unexplained_changes

        regions: list[Region] = []
        pages: set[int] = set()
        for change in after:
            if change.kind in ("form_filling", "annotations", "signature_added") and change.pages:
                if change.kind == "form_filling" and not change.value_changed:
                    pages |= set(change.pages)  # a redone appearance must look as signed: it explains nothing
                    continue
                kind: RegionKind = "fill" if change.kind == "form_filling" else "free"
                regions += [Region(page, kind, box) for box in self._boxes(change.objects) for page in change.pages]
        if not any(region.kind == "fill" for region in regions) and not pages:
            return []  # signature and annotation appearances explain their whole widget: nothing to compare
        pages |= {region.page for region in regions}
        if not pages:
            return []
        signed_end = int(embedded.byte_range[2]) + int(embedded.byte_range[3])
        try:
            found = unexplained_changes(self.data[:signed_end], self.data, pages, regions)
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception as exc:  # a page pdfium cannot render: the structural verdict stands, said plainly
            logging.getLogger(__name__).info("visual comparison skipped: %s", _sentence(exc))
            return []
        return [Change(self.reader.xrefs.total_revisions - 1, "other", change.sentence(), (), (change.page,),
                       violation="what a reader sees differs from what was signed") for change in found]

    def _boxes(self, numbers: tuple[int, ...]) -> list[tuple[float, float, float, float]]:
        """Widget or annotation rectangles (PDF points) of the objects `numbers` and their kids, as now."""
        boxes: list[tuple[float, float, float, float]] = []
        for number in numbers:
            try:
                obj = self.reader.get_object(generic.Reference(number, 0))  # type: ignore[no-untyped-call]
                widgets = [obj, *(kid.get_object() for kid in obj.get("/Kids", []))]
                for widget in widgets:
                    if "/Rect" in widget:
                        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
                        boxes.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
            except MemoryError:  # the per-file memory bound: reported by the runner
                raise
            except Exception:  # no usable rectangle: that change explains no pixels
                continue
        return boxes

    def changes_after(self, revision: int) -> list[Change]:
        """Changes made in revisions after `revision` (the analysis runs once per file, on first use)."""
        if self._changes is None:
            self._changes = self._analyse() if self.policy.judge_changes else []
        return [c for c in self._changes if c.revision > revision]

    def _analyse(self) -> list[Change]:
        permissions: list[Permissions] = []
        for name, value, field_ref in self.fields:
            try:
                sig_object = value.get_object()  # type: ignore[no-untyped-call]
                embedded = EmbeddedPdfSignature(self.reader, field_ref, str(name))  # type: ignore[arg-type]
                permissions.append(declared_permissions(embedded.signed_revision, sig_object, embedded.sig_field,
                                                        str(name)))
            except MemoryError:  # the per-file memory bound: reported by the runner
                raise
            except Exception:  # an unreadable signature declares nothing; it is reported on its own
                continue
        if not permissions:
            return []
        first = min(p.signed_revision for p in permissions)
        return analyse(self.reader, self.data, first, permissions)

    # -- document timestamps ---------------------------------------------------------------------------------------

    def _timestamp(self, embedded: EmbeddedPdfSignature) -> TimestampReport:
        if id(embedded) not in self.integrity_computed:
            self._integrity(embedded)
        status = validate_pdf_timestamp(embedded, validation_context=self.policy.context(), skip_diff=True)
        coverage = _coverage(status.coverage)
        after = self._after(embedded)
        violations = [c for c in after if c.violation]
        modification = pyhanko_level(after) if coverage != "partial" else None
        verdict, problems = timestamp_verdict(
            intact=status.intact, valid=status.valid, coverage=coverage,
            disallowed_changes=change_sentences(violations) if violations else "", trusted=status.trusted,
            chain="trusted" if status.trusted else self._chain_of(embedded.signer_cert,
                                                                   embedded.other_embedded_certs))
        self.timestamp_revisions.append(embedded.signed_revision)
        tst_info = embedded.signed_data["encap_content_info"]["content"].parsed
        return TimestampReport(
            field=str(embedded.field_name), tsa_subject=_subject(embedded.signer_cert),
            time=utc_text(tst_info["gen_time"].native), intact=status.intact, valid=status.valid,
            trusted=status.trusted, coverage=coverage, modification=modification,  # type: ignore[arg-type]
            modification_classes=classes(after), changes_after_signing=[change_sentence(c) for c in after],
            indication=verdict.indication, sub_indication=verdict.sub_indication, problems=problems)

    # -- signatures ------------------------------------------------------------------------------------------------

    def _signature(self, embedded: EmbeddedPdfSignature) -> SignatureReport:
        self.validated_at = None
        status, subindic = self._validate(embedded)
        chain = "trusted" if status.trusted else self._chain(embedded)
        trusted = status.trusted or (subindic in REVOCATION_UNKNOWN and chain == "trusted")
        tst = signature_timestamp_time(embedded.signer_info)
        ts_status = status.timestamp_validity
        if ts_status is not None:
            ts_intact: bool | None = ts_status.intact and ts_status.valid
            ts_trusted: bool | None = bool(ts_intact and ts_status.trusted)
        else:  # validation stopped before the timestamp: still tell whether it belongs to this signature
            ts_intact = _timestamp_matches(embedded.signer_info) if tst is not None else None
            ts_trusted = False if tst is not None else None
        sig = embedded.sig_object
        certificate = embedded.signer_cert
        revocation = revocation_state(subindic, revoked=status.revoked, trusted=trusted)
        name = _text(sig.get("/Name"))
        meaning = _text(sig.get("/Reason"))
        claimed = embedded.self_reported_timestamp
        visible = _visible(embedded.sig_field)
        after = self._after(embedded)
        coverage = _coverage(status.coverage)
        facts = SignatureFacts(
            intact=status.intact, valid=status.valid, docmdp_ok=status.docmdp_ok, trusted=trusted, chain=chain,
            subindic=subindic, revocation=revocation,
            coverage=coverage, modification=pyhanko_level(after) if coverage != "partial" else None,  # type: ignore[arg-type]
            diff_reason=change_sentences([c for c in after if c.violation]),
            has_name=bool(name), has_meaning=bool(meaning), has_time=bool(claimed or tst), visible=visible,
            ts_trusted=ts_trusted, ts_intact=ts_intact,
            ts_chain=self._timestamp_chain(embedded) if ts_trusted is False and ts_intact else "untrusted")
        verdict = facts.verdict()
        level = baseline_level(str(embedded.sig_object.get("/SubFilter")), embedded.signed_revision,
                               has_signature_timestamp=bool(tst), dss_revisions=self.dss_revisions,
                               timestamp_revisions=self._later_timestamps())
        return SignatureReport(
            field=str(embedded.field_name), signer_subject=_subject(certificate),
            signer_common_name=_common_name(certificate), stated_name=name, stated_meaning=meaning,
            claimed_time=utc_text(claimed), timestamp_time=utc_text(tst), timestamp_trusted=ts_trusted,
            intact=status.intact, valid=status.valid, trusted=trusted, revocation=revocation,
            coverage=facts.coverage, modification=facts.modification, docmdp_ok=status.docmdp_ok,
            modification_classes=classes(after), changes_after_signing=[change_sentence(c) for c in after],
            certification=_certification(sig),
            level=level, part11_manifestation=facts.part11(), validation_time=utc_text(self.validated_at),
            indication=verdict.indication, sub_indication=verdict.sub_indication, problems=facts.problems())

    def _validate(self, embedded: EmbeddedPdfSignature) -> tuple[PdfSignatureStatus, object]:
        """pyHanko's status of the signature and the ETSI sub-indication for chain, time and revocation.

        Offline, pyHanko's AdES LTA engine decides from embedded data (DSS, timestamps as proof of existence);
        its status carries the classic fields too, so one validation serves both. Online, that engine wants
        proof of existence for freshly fetched responses and gives NO_POE even for a sound B-T signature, so
        the classic validation with hard-fail revocation checking decides instead.
        """
        if not self.policy.online:
            if id(embedded) not in self.integrity_computed:  # AdES reads the integrity summary
                self._integrity(embedded)
            result = self.longterm.validate(embedded)
            self.validated_at = result.validated_at
            if result.status is not None:
                return result.status, result.subindic
            return self._classic(embedded), result.subindic  # stopped before a status (e.g. a disallowed algorithm)
        status = self._classic(embedded)
        if status.revoked:
            revoked_at = status.revocation_details.revocation_date if status.revocation_details else None
            ts_status = status.timestamp_validity
            proven = ts_status.timestamp if ts_status is not None and ts_status.trusted else None
            if proven is not None and revoked_at is not None and revoked_at <= proven:
                return status, AdESFailure.REVOKED  # a trusted timestamp shows it was signed after the revocation
            return status, AdESIndeterminate.REVOKED_NO_POE
        if status.trusted:
            return status, AdESPassed.OK
        return status, status.trust_problem_indic or AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND

    def _chain(self, embedded: EmbeddedPdfSignature) -> ChainState:
        """The signer's chain at the validation time, revocation aside (soft-fail, offline)."""
        return self._chain_of(embedded.signer_cert, embedded.other_embedded_certs)

    def _timestamp_chain(self, embedded: EmbeddedPdfSignature) -> ChainState:
        """The chain of the signature timestamp's authority at the validation time, revocation aside."""
        token = signature_timestamp_token(embedded.signer_info)
        if token is None:
            return "untrusted"
        return token_chain_state(token["content"], self.policy.roots, self.policy.at)

    def _chain_of(self, certificate: asn1_x509.Certificate | None,
                  intermediates: list[asn1_x509.Certificate]) -> ChainState:
        """A certificate's chain at the validation time, revocation aside (soft-fail, offline)."""
        return chain_state(certificate, intermediates, self.policy.roots, self.policy.at)

    def _classic(self, embedded: EmbeddedPdfSignature) -> PdfSignatureStatus:
        context = self.policy.context()
        if id(embedded) not in self.integrity_computed:
            self._integrity(embedded)
        return validate_pdf_signature(embedded, context, ts_validation_context=context, skip_diff=True)

    def _later_timestamps(self) -> list[int]:
        return [embedded.signed_revision for embedded in self.reader.embedded_timestamp_signatures]


def _unusable(name: str, problem: str, subindic: object = None, *, embedded: EmbeddedPdfSignature | None = None,
              indeterminate: bool = False, checked: bool = False) -> SignatureReport:
    """An entry for a signature that could not be validated the normal way; only established facts are set."""
    verdict = unusable_verdict(subindic, indeterminate=indeterminate)
    certificate = _signer_certificate(embedded)
    intact, valid = established_integrity(verdict.sub_indication, checked=checked)
    return SignatureReport(
        field=name, signer_subject=_subject(certificate), signer_common_name=_common_name(certificate),
        stated_name=None, stated_meaning=None, claimed_time=None, timestamp_time=None, timestamp_trusted=None,
        intact=intact, valid=valid, trusted=False, revocation="not_checked", coverage=None, modification=None,
        docmdp_ok=None, certification=None, level=None, part11_manifestation=False,
        indication=verdict.indication, sub_indication=verdict.sub_indication, problems=[f"The signature {problem}."])


def _signer_certificate(embedded: EmbeddedPdfSignature | None) -> asn1_x509.Certificate | None:
    if embedded is None:
        return None
    try:
        return embedded.signer_cert
    except Exception:  # no certificate, or one that does not parse: the signer stays unknown
        return None


def _certification(sig_object: generic.DictionaryObject) -> str | None:
    """The DocMDP level when this is a certification signature (its /Reference holds a DocMDP transform), else
    None. A signature whose field lock (FieldMDP with /P) restricts later changes is an approval signature."""
    references = sig_object.get("/Reference") or []
    for reference in references if isinstance(references, generic.ArrayObject) else []:
        reference = reference.get_object()
        if isinstance(reference, generic.DictionaryObject) and reference.get("/TransformMethod") == "/DocMDP":
            params = reference.get("/TransformParams")
            permission = params.get_object().get("/P", 2) if params is not None else 2
            return _CERTIFICATION.get(int(permission), "fill_forms")
    return None


def _coverage(level: SignatureCoverageLevel | None) -> Coverage | None:
    if level is None:
        return None
    if level == SignatureCoverageLevel.ENTIRE_FILE:
        return "entire_file"
    if level == SignatureCoverageLevel.ENTIRE_REVISION:
        return "entire_revision"
    return "partial"


def _dss_revisions(reader: PdfFileReader) -> list[int]:
    """Revisions in which the DSS holds revocation data (OCSP responses or CRLs)."""
    found: list[int] = []
    for revision in range(reader.xrefs.total_revisions):
        try:
            dss = reader.get_historical_root(revision).get("/DSS")
            dss = dss.get_object() if dss is not None else None
            if isinstance(dss, generic.DictionaryObject) and ("/OCSPs" in dss or "/CRLs" in dss):
                found.append(revision)
        except MemoryError:  # the per-file memory bound: reported by the runner
            raise
        except Exception:  # a damaged older revision simply holds no usable DSS
            continue
    return found


def _visible(field: generic.DictionaryObject) -> bool:
    """Whether the signature's widget has an area on a page."""
    widgets = [field] if "/Rect" in field else [kid.get_object() for kid in field.get("/Kids", [])]
    for widget in widgets:
        try:
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        except (KeyError, TypeError, ValueError):
            continue
        if abs(x2 - x1) > 1 and abs(y2 - y1) > 1:
            return True
    return False


def _timestamp_matches(signer_info: cms.SignerInfo) -> bool:
    """Whether the signature timestamp's message imprint is the digest of this signature value (RFC 3161 §2.5)."""
    token = signature_timestamp_token(signer_info)
    if token is None:
        return False
    imprint = token_info(token)["message_imprint"]
    digest = hashlib.new(imprint["hash_algorithm"]["algorithm"].native, signer_info["signature"].native).digest()
    return bool(digest == imprint["hashed_message"].native)


def _subject(certificate: asn1_x509.Certificate | None) -> str:
    return str(certificate.subject.human_friendly) if certificate is not None else ""


def _common_name(certificate: asn1_x509.Certificate | None) -> str:
    if certificate is None:
        return ""
    return str(certificate.subject.native.get("common_name", ""))


def _text(value: object) -> str | None:
    """A PDF text string (/Name, /Reason) as text: pyHanko gives bytes for a string it cannot decode (e.g. one
    holding control characters); those are decoded as the PDF says (UTF-16 or UTF-8 by their byte order mark,
    else PDFDocEncoding, read as Latin-1), never shown as a Python bytes literal. Printing escapes the controls."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if value.startswith((b"\xfe\xff", b"\xff\xfe")):
            text = value.decode("utf-16", "replace")
        elif value.startswith(b"\xef\xbb\xbf"):
            text = value[3:].decode("utf-8", "replace")
        else:
            text = value.decode("latin-1")
    else:
        text = str(value)
    return text.strip() or None


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


logging.getLogger(__name__).addHandler(logging.NullHandler())
