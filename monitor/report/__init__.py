"""The report of a comparison: the numbers it draws (:mod:`.data`), its pictures
(:mod:`.plots`) and the self-contained HTML file (:mod:`.html`).

``write_report`` is what ``llm-monitor check --report`` and ``nightly --report`` call, through
:meth:`monitor.api.Comparison.report`.
"""

from __future__ import annotations

from .html import CSP, SECTIONS, check_report_path, render_report, write_report

__all__ = ["CSP", "SECTIONS", "check_report_path", "render_report", "write_report"]
