"""A reader for the plain YAML the repository's own deploy files are written in, so that
``tests/unit/test_compose_stack.py`` can check ``docker-compose.yml`` and Grafana's provisioning
files without PyYAML (not a dependency of trailpulse, and not worth one for a test).

It knows block mappings and sequences, ``# comments``, quoted and plain scalars, flow sequences of
double-quoted strings, and compose's ``&anchor`` / ``*alias`` / ``<<`` merge. Anything else (block
scalars, flow mappings, documents, tags) is refused with the line number rather than read wrongly:
write the file within this subset, or check it with a real tool (promtool, amtool).

>>> load('a: 1\\nb:\\n  - "x: y"  # note\\n  - k: true\\n    j: plain text\\nc: ["p", "q"]\\n')
{'a': 1, 'b': ['x: y', {'k': True, 'j': 'plain text'}], 'c': ['p', 'q']}
>>> load('base: &b\\n  x: 1\\n  y: 2\\nuse:\\n  <<: *b\\n  y: 3\\n')['use']
{'x': 1, 'y': 3}
>>> load('volumes:\\n  data:\\n')
{'volumes': {'data': None}}
>>> load('text: >-\\n  folded\\n')
Traceback (most recent call last):
...
ValueError: line 1: unsupported YAML: '>-'
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"^(<<|[A-Za-z0-9_][\w.\-/]*):(?:\s+|$)(.*)$")
_INT = re.compile(r"^-?\d+$")
_PLAIN = {"true": True, "false": False, "null": None, "~": None}


def load(text: str) -> Any:
    """The value of the document ``text``."""
    lines = [(n, len(raw) - len(raw.lstrip(" ")), body) for n, raw, body in _content_lines(text)]
    reader = _Reader(lines)
    value = reader.block(0, 0)
    if reader.i != len(lines):
        raise reader.error("indentation does not match any open block")
    return value


def _content_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, raw line, content without comment) of each line that has content."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"line {n}: a tab in the indentation")
        body = _strip_comment(raw).strip()
        if body:
            out.append((n, raw, body))
    return out


def _strip_comment(line: str) -> str:
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


class _Reader:
    def __init__(self, lines: list[tuple[int, int, str]]) -> None:
        self.lines = lines
        self.i = 0
        self.anchors: dict[str, Any] = {}

    def error(self, what: str, back: int = 0) -> ValueError:
        """``what`` went wrong at the current line (``back`` = 1: the line just read)."""
        n = self.lines[min(self.i - back, len(self.lines) - 1)][0] if self.lines else 0
        return ValueError(f"line {n}: {what}")

    def block(self, indent: int, first: int) -> Any:
        """The block starting at line ``self.i``, whose lines are indented by ``indent``; None (a
        key without a value, as compose's named volumes) when the next line is not indented past
        ``first``."""
        if self.i >= len(self.lines) or self.lines[self.i][1] < first:
            return None
        body = self.lines[self.i][2]
        return self.sequence(indent) if body == "-" or body.startswith("- ") else self.mapping(indent)

    def mapping(self, indent: int) -> dict[str, Any]:
        explicit: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        while self.i < len(self.lines) and self.lines[self.i][1] == indent:
            match = _KEY.match(self.lines[self.i][2])
            if match is None:
                raise self.error("expected `key: value`")
            key, rest = match.groups()
            self.i += 1
            value = self.value(rest, indent)
            if key == "<<":
                if not isinstance(value, dict):
                    raise self.error("`<<` merges a mapping", 1)
                merged.update(value)
            elif key in explicit:
                raise self.error(f"duplicate key {key!r}", 1)
            else:
                explicit[key] = value
        return merged | explicit

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.i < len(self.lines) and self.lines[self.i][1] == indent:
            n, _, body = self.lines[self.i]
            if not (body == "-" or body.startswith("- ")):
                raise self.error("expected `- item`")
            rest = body[1:].strip()
            if _KEY.match(rest):  # `- key: value` opens a mapping indented past the dash
                self.lines[self.i] = (n, indent + len(body) - len(rest), rest)
                items.append(self.mapping(self.lines[self.i][1]))
            else:
                self.i += 1
                items.append(self.value(rest, indent))
        return items

    def value(self, rest: str, indent: int) -> Any:
        """The value after ``key:`` or ``-``: on the same line, or the block below it."""
        anchor = ""
        if rest.startswith("&"):
            anchor, _, rest = rest[1:].partition(" ")
            rest = rest.strip()
        if not rest:
            value = self.block(self.lines[self.i][1] if self.i < len(self.lines) else 0, indent + 1)
        elif rest.startswith("*"):
            if rest[1:] not in self.anchors:
                raise self.error(f"unknown alias {rest!r}", 1)
            value = self.anchors[rest[1:]]
        else:
            value = self.scalar(rest)
        if anchor:
            self.anchors[anchor] = value
        return value

    def scalar(self, text: str) -> Any:
        if text.startswith('"') or text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise self.error(f"unsupported YAML: {text!r}", 1) from None
        if text.startswith("'") and text.endswith("'") and len(text) > 1:
            return text[1:-1].replace("''", "'")
        if text[0] in "{|>!%@`'":
            raise self.error(f"unsupported YAML: {text!r}", 1)
        if text in _PLAIN:
            return _PLAIN[text]
        return int(text) if _INT.match(text) else text
