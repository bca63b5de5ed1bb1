"""The export: what a study's database says, as the files a researcher analyses. No Streamlit, no SQL.

It sits above storage, the study and the analysis: it reads the repository (:mod:`study_app.store`), each
participant's typed plan (:mod:`study_app.study.plan`) and the records of what was shown, and hands its rows to
the analysis. ``trial_rows.response_rows`` (one row per participant x trial; columns only one protocol has in
``trial_rows.protocol_columns``) and ``participant_rows.participant_rows`` build the rows, ``columns`` fixes the
column order, ``csv_files`` writes them (formula cells neutralised, atomically, owner-only),
``study_export.export_study`` writes both files and logs the export, ``reliance_report`` turns the rows into
reliance tables and ``reliance.csv``, and ``export_cli`` is ``xai-study export``.
"""

from study_app.export.columns import AUDIT_COLUMNS, PARTICIPANT_COLUMNS, RESPONSE_COLUMNS
from study_app.export.csv_files import FORMULA_PREFIXES, neutralise_cell, write_csv
from study_app.export.participant_rows import participant_rows
from study_app.export.study_export import ExportResult, export_study, relative_checkpoint, write_audit_csv
from study_app.export.trial_rows import response_rows

__all__ = [
    "AUDIT_COLUMNS",
    "FORMULA_PREFIXES",
    "PARTICIPANT_COLUMNS",
    "RESPONSE_COLUMNS",
    "ExportResult",
    "export_study",
    "neutralise_cell",
    "participant_rows",
    "relative_checkpoint",
    "response_rows",
    "write_audit_csv",
    "write_csv",
]
