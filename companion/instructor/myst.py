"""Find and remove MyST directive blocks (``{solution}`` and friends) in Markdown text.

The text is parsed with markdown-it, the parser that MyST itself uses, with the colon fence
enabled, so a block is exactly what the book build sees: a fence of three or more backticks,
tildes or colons whose info string is ``{name} argument``, closed by a fence of the same
character at least as long. A code block (a fence without ``{name}``) is literal: a
``{solution}`` written inside a ````` ````markdown ````` example is left alone. The content of
a directive is parsed again, so a solution nested in an admonition is found too.

sphinx-exercise also has a *gated* form, ``{solution-start} label`` ... ``{solution-end}``,
whose content is everything between the two directives, possibly across notebook cells;
:class:`SolutionStripper` keeps that state from one call to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

# Directives whose content is code or math, not Markdown: never searched for nested blocks.
LITERAL_DIRECTIVES = frozenset(
    {"code", "code-block", "code-cell", "sourcecode", "math", "raw", "literalinclude", "eval-rst"}
)
_DIRECTIVE = re.compile(r"^\{(?P<name>[^}\s]+)\}\s*(?P<argument>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Directive:
    """One fenced directive block: ``start``/``end`` are 0-based line numbers, end exclusive."""

    name: str
    argument: str
    options: dict[str, str] = field(default_factory=dict)
    body: str = ""
    start: int = 0
    end: int = 0


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").use(colon_fence_plugin)


def _options_and_body(content: str) -> tuple[dict[str, str], str]:
    """Split a directive's content into its ``:key: value`` options and its body."""
    lines = content.splitlines()
    options: dict[str, str] = {}
    k = 0
    while k < len(lines) and (match := _OPTION.match(lines[k].strip())):
        options[match["key"]] = match["value"].strip()
        k += 1
    return options, "\n".join(lines[k:]).strip("\n")


def iter_directives(text: str, offset: int = 0) -> Iterator[Directive]:
    """Every directive block in ``text``, outer before inner, in document order."""
    for token in _parser().parse(text):
        if token.type not in ("fence", "colon_fence") or token.map is None:
            continue
        match = _DIRECTIVE.match(token.info.strip())
        if not match:
            continue  # a code block: literal, nothing inside counts
        options, body = _options_and_body(token.content)
        start, end = token.map
        name, argument = match["name"], match["argument"].strip()
        yield Directive(name, argument, options, body, start + offset, end + offset)
        if match["name"] not in LITERAL_DIRECTIVES:
            yield from iter_directives(token.content, offset + start + 1)


class SolutionStripper:
    """Remove every solution block from a sequence of Markdown texts (the cells of a notebook).

    ``strip(text)`` returns ``text`` without its ``{solution}`` blocks and without anything
    between a ``{solution-start}`` and its ``{solution-end}``; ``gated`` is True while such a
    region is open at the end of the last text, so that a caller can drop the code cells
    inside it. ``removed`` counts the blocks removed so far.
    """

    def __init__(self, names: tuple[str, ...] = ("solution",)) -> None:
        self.names = names
        self.gated = False
        self.removed = 0

    def strip(self, text: str) -> str:
        """``text`` without its solution blocks (see the class docstring)."""
        lines = text.splitlines(keepends=True)
        drop = [self.gated] * len(lines)
        for directive in iter_directives(text):
            if directive.name in self.names:
                self.removed += 1
                drop[directive.start : directive.end] = [True] * (directive.end - directive.start)
            elif directive.name in {f"{n}-start" for n in self.names}:
                self.removed += 1
                self.gated = True
                drop[directive.start :] = [True] * (len(lines) - directive.start)
            elif directive.name in {f"{n}-end" for n in self.names} and self.gated:
                self.gated = False
                drop[directive.end :] = [False] * (len(lines) - directive.end)
                drop[directive.start : directive.end] = [True] * (directive.end - directive.start)
        if not any(drop):
            return text
        return _join_kept(lines, drop, text)


def _join_kept(lines: list[str], drop: list[bool], original: str) -> str:
    """The lines not dropped, without the blank lines left behind where blocks were removed."""
    out: list[str] = []
    after_removal = False
    for line, gone in zip(lines, drop, strict=True):
        if gone:
            after_removal = True
            continue
        if after_removal and not line.strip() and (not out or not out[-1].strip()):
            continue  # a blank line next to a removed block, after a blank line or at the top
        after_removal = False
        out.append(line)
    text = "".join(out)
    if drop[-1]:  # the text ended inside a removed block: no trailing blank lines
        text = text.rstrip()
        text += "\n" if original.endswith("\n") and text else ""
    return text


def strip_solutions(text: str) -> str:
    """``text`` (one Markdown document) without its solution blocks."""
    return SolutionStripper().strip(text)
