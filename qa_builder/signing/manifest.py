"""Signed manifests: canonical JSON (RFC 8785) of a build, with a detached CMS signature beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import rfc8785
from pydantic import ValidationError
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from qa_builder import __version__, clock
from qa_builder.errors import Hint, ManifestError, ManifestInputError, OutputExistsError, Remedy
from qa_builder.files import atomic_writer, inside, read_small_file, sha256_file
from qa_builder.models.build import BUILD_RECORD_LIMIT, Artefact, BuildRecord
from qa_builder.models.manifest import LibraryUse, Manifest, SignatureEntry
from qa_builder.signing.cms import sign_detached, signature_timestamp_time
from qa_builder.signing.keys import SigningKey, check_not_revoked
from qa_builder.signing.trust import load_trust_roots

SIGNED_PDF_SUFFIX = ".signed.pdf"


@dataclass(frozen=True)
class ManifestFiles:
    """The two files a manifest is made of."""

    manifest: Path
    signature: Path


def load_build_record(path: Path) -> BuildRecord:
    """Read a <id>_v<version>.build.json file.

    Raises:
        ManifestError: missing, not JSON, or not a build record.
    """
    try:
        data = read_small_file(path, BUILD_RECORD_LIMIT)
    except FileNotFoundError as exc:
        raise ManifestInputError(f"{path}: build record not found") from exc
    except OSError as exc:
        raise ManifestInputError(f"{path}: is not a readable build record ({exc.strerror})") from exc
    try:
        # pydantic's own JSON parser: bounded nesting and number sizes (json.loads overflows the stack on
        # 100 000 nested brackets and refuses 5 000-digit integers with a bare ValueError).
        return BuildRecord.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ManifestInputError(f"{path}: is not a readable build record ({first['msg']})") from exc
        field = ".".join(str(p) for p in first["loc"])
        raise ManifestInputError(f"{path}: is not a qa-builder build record ({field}: {first['msg']})") from exc


MAX_LISTED_ARTEFACTS = 100
"""Artefacts a build record may list (a build writes at most a DOCX, a PDF, a redline and a few more); a record
listing 200,000 made `manifest` hash for 34 s and then fail (session 6 attack)."""


def build_manifest(build_json: Path, *, now: dt.datetime | None = None) -> Manifest:
    """The manifest of a build: its inputs, every artefact found beside the record, and the PDF's signatures.

    Raises:
        ManifestError: the record is unusable or an artefact it lists is missing.
    """
    record = load_build_record(build_json)
    folder = build_json.parent
    artefacts: list[Artefact] = []
    if len(record.artefacts) > MAX_LISTED_ARTEFACTS:
        raise ManifestInputError(f"{build_json}: lists {len(record.artefacts):,} artefacts (a build writes a handful; "
                                 f"at most {MAX_LISTED_ARTEFACTS:,} are read)")
    seen: set[str] = set()
    for listed in record.artefacts:
        if listed.file in seen:  # the manifest model refuses a file listed twice: say so here, before any hashing
            raise ManifestInputError(f"{build_json}: lists {listed.file!r} more than once")
        seen.add(listed.file)
        try:
            path = inside(folder, listed.file)
        except ValueError as exc:
            raise ManifestInputError(f"{build_json}: lists {listed.file!r}, which is not a file beside it "
                                     f"({exc})") from exc
        if not path.is_file():
            raise ManifestInputError(f"{build_json}: lists {listed.file}, which is not beside it")
        artefacts.append(_artefact(path, listed.role, listed.media_type))
    artefacts.append(_artefact(build_json, "build-record", "application/json"))
    stem = build_json.name.removesuffix(".build.json")
    signed_pdf = folder / f"{stem}{SIGNED_PDF_SUFFIX}"
    signatures: list[SignatureEntry] = []
    if signed_pdf.is_file():
        artefacts.append(_artefact(signed_pdf, "signed-pdf", "application/pdf"))
        signatures = signatures_in(signed_pdf)
    return Manifest(
        tool_version=__version__,
        agreement_id=record.agreement_id,
        agreement_version=record.agreement_version,
        answers_sha256=record.answers_sha256,
        library=LibraryUse(name=record.library_name, version=record.library_version, clauses=record.clauses),
        template_sha256=record.template_sha256,
        model_digest=record.model_digest,
        artefacts=artefacts,
        signatures=signatures,
        created_at=clock.utc_text(now or clock.now()),
    )


def canonical_bytes(manifest: Manifest) -> bytes:
    """RFC 8785 canonical JSON of the manifest."""
    return bytes(rfc8785.dumps(manifest.model_dump(mode="json")))


def write_signed_manifest(build_json: Path, key: SigningKey, *, tsa_url: str | None = None,
                          force: bool = False, trust_roots: Sequence[Path] = ()) -> ManifestFiles:
    """Write <stem>.manifest.json and its detached CMS signature <stem>.manifest.json.p7s beside the record.

    Records nothing: `qa_builder.audited.write_signed_manifest` adds the audit event for a workspace's trail.

    The CMS carries signing-certificate-v2 and signing time, and an RFC 3161 timestamp when `tsa_url` is given.
    With `trust_roots`, the signer's certificate is first checked not revoked (as `sign --trust` does), and the
    OCSP responses and CRLs that showed it are carried in the signature, so that it verifies offline.

    Raises:
        ManifestError / OutputExistsError / SigningError: unusable record, existing files, signing failure.
        SigningInputError: the signer's certificate is revoked, or does not chain to `trust_roots`.
        InputError: a trust root file cannot be used.
    """
    stem = build_json.name.removesuffix(".build.json")
    files = ManifestFiles(build_json.parent / f"{stem}.manifest.json", build_json.parent / f"{stem}.manifest.json.p7s")
    for path in (files.manifest, files.signature):
        if path.exists() and not force:
            raise OutputExistsError(f"{path} already exists", hint=Hint(Remedy.REPLACE_OUTPUT))
    data = canonical_bytes(build_manifest(build_json))
    revocation = check_not_revoked(key, load_trust_roots(trust_roots)) if trust_roots else None
    try:
        signature = sign_detached(data, key, tsa_url, revocation)
    except RuntimeError as exc:
        raise ManifestError(f"{build_json}: signing the manifest failed ({exc})") from exc
    with atomic_writer(files.manifest, replace=force) as out:
        out.write(data)
    try:
        with atomic_writer(files.signature, replace=force) as out:
            out.write(signature)
    except BaseException:  # a manifest without its signature is half a result: none is left
        files.manifest.unlink(missing_ok=True)
        raise
    return files


def signatures_in(pdf: Path) -> list[SignatureEntry]:
    """The signatures of a signed agreement: field, signer, stated meaning, and time (TSA time when present)."""
    try:
        with pdf.open("rb") as handle:
            reader = PdfFileReader(handle, strict=False)
            entries = []
            for embedded in reader.embedded_signatures:
                if embedded.sig_object_type != "/Sig":
                    continue
                sig = embedded.sig_object
                reason = str(sig.get("/Reason", ""))
                time, source = signature_timestamp_time(embedded.signer_info), "tsa"
                if time is None:
                    claimed = embedded.self_reported_timestamp
                    time, source = (claimed.astimezone(dt.UTC) if claimed else None), "signer"
                entries.append(SignatureEntry(
                    field=str(embedded.field_name), signer=str(sig.get("/Name", "")),
                    meaning=reason.split(" ", 1)[0].lower() if reason else "",
                    time=clock.utc_text(time) if time else "",
                    time_source=source if time else "none"))
            return entries
    except (OSError, PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise ManifestInputError(f"{pdf}: its signatures cannot be read ({exc})") from exc


def _artefact(path: Path, role: str, media_type: str) -> Artefact:
    return Artefact(file=path.name, role=role, media_type=media_type,  # type: ignore[arg-type]
                    sha256=sha256_file(path), size=path.stat().st_size)
