"""Workspace versions: impact analysis (`analysis`), building one version (`version`), and regeneration runs that
rebuild every affected agreement (`runs`).

The names below are the ones callers use; each lives in the module named above.
"""

from qa_builder.regenerate.analysis import Impact, Reason, analyse, impact, record_impact
from qa_builder.regenerate.runs import (
    PENDING_FILE,
    Progress,
    RegenerationReport,
    build_new,
    planned_regeneration,
    regenerate,
    run_regeneration,
)
from qa_builder.regenerate.version import REGENERATION_SUFFIX, VersionBuilt, build_version
from qa_builder.workspace.inputs import (
    Inputs,
    current_inputs,
    effective_answers,
    history_of,
    load_workspace_answers,
)

__all__ = ["PENDING_FILE", "REGENERATION_SUFFIX", "Impact", "Inputs", "Progress", "Reason", "RegenerationReport",
           "VersionBuilt", "analyse", "build_new", "build_version", "current_inputs", "effective_answers",
           "history_of", "impact", "load_workspace_answers", "planned_regeneration", "record_impact", "regenerate",
           "run_regeneration"]
