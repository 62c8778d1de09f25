"""The Part 11 audit trail (21 CFR 11.10(e)): append-only, hash-chained, sealed by signature, exportable.

A workspace's trail lives in WORKSPACE/audit/: `trail.sqlite3` holds the events, `seals/` the signed heads.
"""

from __future__ import annotations

from qa_builder.audit.events import Action as Action
from qa_builder.audit.events import AuditEvent as AuditEvent
from qa_builder.audit.events import AuditFile as AuditFile
from qa_builder.audit.events import Outcome as Outcome
from qa_builder.audit.export import export_csv as export_csv
from qa_builder.audit.export import export_pdf as export_pdf
from qa_builder.audit.seal import Seal as Seal
from qa_builder.audit.seal import seal_trail as seal_trail
from qa_builder.audit.store import AuditTrail as AuditTrail
from qa_builder.audit.verify import SealStatus as SealStatus
from qa_builder.audit.verify import TrailVerdict as TrailVerdict
from qa_builder.audit.verify import verify_trail as verify_trail

__all__ = ["Action", "AuditEvent", "AuditFile", "AuditTrail", "Outcome", "Seal", "SealStatus", "TrailVerdict",
           "export_csv", "export_pdf", "seal_trail", "verify_trail"]
