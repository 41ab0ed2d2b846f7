"""Reports of a run directory: one self-contained HTML page (no network), Markdown, or the data as JSON.

``build_report_data(DIR)`` reads everything a report shows from the run store; ``write_report(DIR, OUT, fmt)``
renders it and replaces OUT atomically. ``twofaced report DIR`` is the same call.
"""

from ._data import build_report_data
from ._render import FORMATS, write_report

__all__ = ["FORMATS", "build_report_data", "write_report"]
