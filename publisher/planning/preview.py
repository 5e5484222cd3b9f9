"""How a delivery's parts read to a person: the post as published, each reply or comment under
it, and the notes for the reviewer. Shown by ``validate`` before a post file is dropped in, and by
``review`` for what is queued, in the same words."""

from __future__ import annotations

from collections.abc import Sequence

from publisher.vocabulary import Part

PART_LABELS = {"post": "", "reply": "reply", "comment": "first comment"}


def parts_lines(parts: Sequence[Part], notes: Sequence[str], indent: str = "      ") -> list[str]:
    """A delivery's parts as a reviewer reads them: the post, then each reply or comment under it,
    numbered, so a thread's structure is plain."""
    lines = [f"{indent}| {line}".rstrip() for line in parts[0].text.splitlines()]
    for n, part in enumerate(parts[1:], 1):
        label = f"{PART_LABELS[part.kind]} {n}" if part.kind == "reply" else PART_LABELS[part.kind]
        body = part.text.splitlines()
        lines.append(f"{indent}  └─ {label}: {body[0]}")
        lines += [f"{indent}     {line}" for line in body[1:]]
    lines += [f"{indent}note: {note}" for note in notes]
    return lines
