"""File intake: exports (CSV, XLSX, UBL) into canonical records, by profile."""

from tieline.intake._run import ExitCode, ImportRun, Issue, RunReport

__all__ = ["ExitCode", "ImportRun", "Issue", "RunReport"]
