"""Fenced code blocks of Markdown text (README.md, docs/tutorials), for the tests that run or
parse them."""

from __future__ import annotations


def fenced_blocks(text: str, languages: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(info string, code)`` of every fenced block of ``text`` whose info string is one of
    ``languages`` (``""`` for a bare fence), in order; an unclosed block is an error."""
    blocks, lines, language = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if lines is None:
                lines, language = [], line[3:].strip()
            else:
                if language in languages:
                    blocks.append((language, "\n".join(lines)))
                lines = None
        elif lines is not None:
            lines.append(line)
    assert lines is None, "a code block is not closed"
    return blocks
