"""Reports of a run: pandas tables (:func:`tables`), PNG charts, a self-contained HTML page, CSV and XLSX.

From a notebook::

    from bench.report import tables
    t = tables()                 # the latest run under results/
    t.ranking.head()             # scored cases, best first
    t.recommendations            # best case per hardware target, with reasons and robustness
"""

from __future__ import annotations

from bench.report.build import write_report
from bench.report.tables import Tables, analyse, tables

__all__ = ["Tables", "analyse", "tables", "write_report"]
