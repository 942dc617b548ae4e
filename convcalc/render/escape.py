"""Text a student wrote, made safe for each output: a terminal, Markdown, a spreadsheet cell.

Everything a student controls (a name, an id, a file name, an answer string, a misspelt key, an
exception message, what their code printed) is hostile: an ANSI escape can erase a ✗ line and
draw a green ✓, a cell starting with ``=`` is a spreadsheet formula.  So:

* :func:`visible` (terminal and Markdown text): every control character (Unicode category Cc:
  C0 incl. ESC, BEL, BS, CR; DEL; C1 incl. U+009B, a one-byte CSI some terminals honour) and
  every bidi or invisible formatting character is shown as a visible escape (``\\x1b``,
  ``\\u202e``); a newline only where the text is a block (``multiline=True``).
* :func:`markup` for rich: :func:`visible`, then rich's markup escaped.
* :func:`markdown`: :func:`visible`, then CommonMark's punctuation backslash-escaped.
* :func:`html_text`: :func:`visible` (newlines kept), then HTML's ``& < > " '`` as entities.
* :func:`csv_cell`: a cell that a spreadsheet would read as a formula (it starts, perhaps after
  spaces, with ``= + - @``, a tab, CR or LF) gets a leading ``'`` (OWASP, "CSV Injection").
* JSON keeps the exact text (``json.dumps`` escapes controls itself).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["visible", "markup", "markdown", "html_text", "csv_cell", "FORMULA_START"]

_BIDI = set(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\u2028\u2029\ufeff"
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: object, multiline: bool = False) -> str:
    """``text`` with every control and bidi/invisible character as a visible escape (``\\x1b``)."""
    s = str(text)
    out = []
    for ch in s:
        if ch == "\n" and multiline:
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def markup(text: object, multiline: bool = False) -> str:
    """For a rich renderable: visible, and ``[bold]`` shown literally."""
    from rich.markup import escape

    return escape(visible(text, multiline))


_MD = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def markdown(text: object) -> str:
    """For Markdown output: visible, and every CommonMark punctuation mark backslash-escaped."""
    return _MD.sub(r"\\\1", visible(text))


def html_text(text: object) -> str:
    """For HTML text and attribute values: visible (newlines kept), and ``& < > " '`` as entities."""
    import html

    return html.escape(visible(text, multiline=True), quote=True)


def csv_cell(text: object) -> str:
    """A spreadsheet cell that is never a formula and holds no raw control character: :func:`visible`, then
    ``'`` before a leading ``= + - @`` (a leading tab, CR or LF is already a visible escape by then)."""
    s = visible(text)
    if s.lstrip(" ").startswith(FORMULA_START) or s.startswith(FORMULA_START):
        return "'" + s
    return s
