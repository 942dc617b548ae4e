"""Renderers: every string convcalc prints is made here (rich, text, JSON, CSV, Markdown, HTML, pictures).

May import the records of every part below it (analysis, checks, train, homework results) to read them;
homework may call the derivation and gradebook renderers in turn.  Nothing here computes a number.
"""
