"""How to validate: trust roots, the validation time, and whether revocation data may be fetched online.

This is the one place that turns the user's choices into pyHanko / certvalidator validation settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from qa_builder.errors import InputError
from qa_builder.files import read_small_file

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MAX_CERTIFICATE_FILE = 16 * 1024 * 1024
"""Bytes at most of a --trust file (the system bundle is about 200 KiB)."""


@dataclass(frozen=True)
class VerifySettings:
    """The user's choices for one `verify` run."""

    trust_roots: tuple[Path, ...] = ()
    system_trust: bool = False
    at: dt.datetime | None = None
    online: bool = False
    timeout_s: float = 120.0
    memory_mb: int = 2048
    jobs: int = 1
    judge_changes: bool = True  # False only to measure the cost of the difference analysis (benchmarks)


@dataclass(frozen=True)
class Policy:
    """Loaded trust roots and the validation time, ready for pyHanko."""

    roots: tuple[asn1_x509.Certificate, ...]
    at: dt.datetime | None
    online: bool
    spec: PdfSignatureValidationSpec = field(repr=False)
    judge_changes: bool = True

    def timing(self) -> ValidationTimingInfo:
        """Validate now, or as of `--at`.

        A past `--at` is a point-in-time validation (revocation data issued after it is not used); a future
        `--at` validates as a verifier will then, with the data the file holds today.
        """
        now = dt.datetime.now(dt.UTC)
        moment = self.at or now
        return ValidationTimingInfo(validation_time=moment, best_signature_time=moment,
                                    point_in_time_validation=moment < now - dt.timedelta(minutes=1))

    def context(self) -> ValidationContext:
        """A classic validation context: same roots and time; online it fetches and insists on revocation data."""
        return ValidationContext(trust_roots=list(self.roots), allow_fetching=self.online, moment=self.at,
                                 revocation_mode="hard-fail" if self.online else "soft-fail",
                                 time_tolerance=dt.timedelta(seconds=30))


def load_policy(settings: VerifySettings) -> Policy:
    """Load the trust roots (never the OS store unless `system_trust`) and build the validation spec.

    Raises:
        InputError: a --trust file is missing or holds no certificate.
    """
    roots: list[asn1_x509.Certificate] = []
    sources = [*settings.trust_roots, *((SYSTEM_BUNDLE,) if settings.system_trust else ())]
    for path in sources:
        try:
            data = read_small_file(path, MAX_CERTIFICATE_FILE)  # a FIFO or device is refused, not waited on
        except OSError as exc:
            raise InputError(f"{path}: the trust root cannot be read ({exc.strerror})") from exc
        try:
            found = list(load_certs_from_pemder_data(data))
        except ValueError as exc:
            raise InputError(f"{path}: is not a PEM or DER certificate file ({exc})") from exc
        if not found:
            raise InputError(f"{path}: holds no certificate")
        try:  # asn1crypto parses lazily: make a malformed certificate fail here, as a usage error
            for certificate in found:
                _ = certificate.subject, certificate.public_key, certificate.not_valid_after
            SimpleTrustManager.build(trust_roots=found)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"{path}: is not a usable certificate ({exc})") from exc
        roots.extend(found)
    fetching = RevinfoOnlineFetchingRule.ALWAYS_FETCH if settings.online else RevinfoOnlineFetchingRule.LOCAL_ONLY
    policy = CertValidationPolicySpec(trust_manager=SimpleTrustManager.build(trust_roots=roots),
                                      revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
                                      time_tolerance=dt.timedelta(seconds=30))
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=policy,
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=fetching)),
        diff_policy=None)  # changes after signing are judged by qa_builder.verify.changes, once per file
    at = settings.at.astimezone(dt.UTC) if settings.at else None
    return Policy(roots=tuple(roots), at=at, online=settings.online, spec=spec, judge_changes=settings.judge_changes)
