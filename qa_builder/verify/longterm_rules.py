"""Pure rules of long-term validation: when past validation may improve a result (no pyHanko calls here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyhanko.sign.ades.report import AdESIndeterminate, AdESSubIndic

# ETSI EN 319 102-1 §5.6.2.4 (past signature validation) may turn these current-time results into PASSED when a
# proof of existence of the signature predates the problem: revocation data not fresh at T (TRY_LATER; pyHanko
# reports a stale response beside non-matching ones as CERTIFICATE_CHAIN_GENERAL_FAILURE, SIGNING-NOTES §5),
# a signer certificate expired at T, a revocation after the proven signing time, or missing proof of existence.
PAST_VALIDATION_MAY_HELP = frozenset({
    AdESIndeterminate.TRY_LATER,
    AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.REVOKED_NO_POE,
    AdESIndeterminate.REVOKED_CA_NO_POE,
    AdESIndeterminate.NO_POE,
})


@dataclass(frozen=True)
class Evidence:
    """A time at which a timestamp proves the signature existed, and which timestamp proves it."""

    time: dt.datetime
    source: str


def past_validation_may_help(subindic: AdESSubIndic) -> bool:
    """Whether a validation result may be improved by validating at a proven earlier time."""
    return subindic in PAST_VALIDATION_MAY_HELP
