"""Exports that live outside the notebook: a self-contained HTML page of feature maps."""

from __future__ import annotations

from .html import ExportReport, default_export_layers, export_html, page_html

__all__ = ["ExportReport", "default_export_layers", "export_html", "page_html"]
