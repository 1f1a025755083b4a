"""File intake: exports (CSV, XLSX, UBL) into canonical records, by profile."""

from tieline.intake._engine import run_import
from tieline.intake._run import ExitCode, ImportRun, Issue, RunReport
from tieline.intake.profile import Profile, load_profile, shipped_profiles

__all__ = [
    "ExitCode",
    "ImportRun",
    "Issue",
    "Profile",
    "RunReport",
    "load_profile",
    "run_import",
    "shipped_profiles",
]
