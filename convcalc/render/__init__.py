"""Renderers: every string convcalc prints is made here (text, rich, JSON, CSV, Markdown)."""
