"""Untrusted text made safe to show: the one place every writer's escaping starts.

Upload names, ``meta.json`` text and problem messages come from participants. Before any
dialect escapes its own syntax, :func:`clean_text` makes the text clean: every character
that is not printable text is shown as a visible escape, so nothing raw reaches a
terminal, a page or a file:

- undecodable bytes of a file name (Python's ``surrogateescape``: U+DC80..U+DCFF) -> ``\\xff``;
- lone surrogates -> ``\\ud800``;
- C0 controls, DEL and C1 controls (ESC, CSI, OSC, BEL, CR, ...) -> ``\\x1b``, ``\\x9b``;
- bidirectional overrides and isolates, line/paragraph separators -> ``\\u202e``.

Tabs and newlines are escaped too unless ``keep`` names them (a terminal message keeps
its own ``\\n``). Clean text passes unchanged.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(character: str) -> str:
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean_text(text, keep: str = "") -> str:
    """``text`` with every unsafe character shown as a visible escape (see the module doc)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _visible(m.group()), text)
