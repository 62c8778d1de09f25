"""How to validate: trust roots, the validation time, and whether revocation data may be fetched online.

This is the one place that turns the user's choices into pyHanko / certvalidator validation settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
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

from qa_builder.signing.trust import load_trust_roots

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


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
                                 time_tolerance=dt.timedelta(seconds=30), fetcher_backend=self.fetcher_backend())

    def fetcher_backend(self) -> Any:
        """Online, a fetcher backend reading at most 32 MiB of each answer (the URLs come from the files checked);
        offline, None."""
        if not self.online:
            return None
        from qa_builder.signing.fetch import owned_bounded_fetcher_backend

        return owned_bounded_fetcher_backend()


def load_policy(settings: VerifySettings) -> Policy:
    """Load the trust roots (never the OS store unless `system_trust`) and build the validation spec.

    Raises:
        InputError: a --trust file is missing or holds no certificate.
    """
    roots = load_trust_roots([*settings.trust_roots, *((SYSTEM_BUNDLE,) if settings.system_trust else ())])
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
