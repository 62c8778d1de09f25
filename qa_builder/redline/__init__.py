"""Redlines: what changed between two versions of an agreement (`compare`), word by word (`worddiff`), written as
a DOCX of real tracked revisions (`writer`)."""

from qa_builder.redline.compare import (
    COVER_HEADING,
    HISTORY_HEADING,
    RACI_HEADING,
    SELECTION_HEADING,
    SIGNATURES_HEADING,
    SOURCES_HEADING,
    TEXT_HEADING,
    TIMELINES_HEADING,
    TRACE_HEADING,
    ClauseChange,
    RedlineSummary,
    compare_agreements,
)
from qa_builder.redline.writer import write_redline

__all__ = ["COVER_HEADING", "HISTORY_HEADING", "RACI_HEADING", "SELECTION_HEADING", "SIGNATURES_HEADING",
           "SOURCES_HEADING", "TEXT_HEADING", "TIMELINES_HEADING", "TRACE_HEADING", "ClauseChange", "RedlineSummary",
           "compare_agreements", "write_redline"]
