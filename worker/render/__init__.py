"""PDF rendering of review reports in the official layout (Decree 30/2020/NĐ-CP)."""

from __future__ import annotations

from tongket.worker.render.document import render_report

__all__ = ["render_report"]
