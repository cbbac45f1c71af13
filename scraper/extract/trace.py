"""What the extractor decided on one page, recorded while it decides: nothing re-derives a decision.

Three kinds of entries, in the order they happen: the elements taken out of the page before the
body is read (by the learned template, a profile's drop rule, the generic path's chrome pruning),
each with the rule that took it out; every body paragraph kept or dropped, with the step and rule
that decided; and the safety net's verdict on the body as a whole. Beside them, notes on what was
set aside as a whole (a learned template not applied, metadata that could not be read). `explain`
renders this record, so what it shows is what the extractor did (issue 13).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Stages, in the extractor's order (a Decision's or Removal's ``stage``).
TEMPLATE, PROFILE, GENERIC, BOILERPLATE, METADATA, NET = (
    "template", "profile", "generic", "boilerplate", "metadata", "net")
_PATH_STEPS = 3


@dataclass(frozen=True)
class Removal:
    """An element taken out of the page before the body was read."""

    stage: str
    rule: str        # one line a user can act on, naming the rule or selector
    element: Any     # the lxml element, detached with its subtree intact
    path: str        # where it sat (the tag.class chain of its last ancestors); "" unless detailed
    position: int    # its place in document order before anything was removed; -1 unless detailed


@dataclass(frozen=True)
class Decision:
    """One body paragraph and what the extractor did with it."""

    text: str        # whitespace-normalised, as it is (or would have been) in the record
    kept: bool
    stage: str
    rule: str


@dataclass(frozen=True)
class Verdict:
    """The safety net's decision on the body as a whole (scraper.extract.safety)."""

    taken: str                      # "ours" or "baseline"
    reason: str                     # one line: what was compared and what decided
    evidence: str | None = None     # what let our body stand, when it stood against the baseline


@dataclass(frozen=True)
class Note:
    """Something the extractor set aside as a whole: a learned template it did not apply, metadata
    it could not read (a JSON-LD block nested too deep, a date of an impossible year)."""

    stage: str       # template | metadata
    message: str     # one line


def element_path(el) -> str:
    """Where an element sits: the tag.class chain of its last few ancestors (below <body>)."""
    def step(node) -> str:
        classes = (node.get("class") or "").split()
        return node.tag + "".join("." + c for c in classes[:2])

    steps = [step(el)]
    for anc in el.iterancestors():
        if anc.tag in ("body", "html") or len(steps) >= _PATH_STEPS:
            break
        steps.append(step(anc))
    return "/".join(reversed(steps))


def drop_element(el) -> None:
    """Remove ``el`` from its tree, keeping the text that follows it (its tail)."""
    parent = el.getparent()
    if parent is None:      # the root, or already removed with an ancestor
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


class Trace:
    """The record one extraction writes as it goes.

    ``detailed`` also notes where each removed element sat (its path and place in the page, taken
    before it leaves the tree), which only `explain` needs; the decisions are the same either way.
    """

    def __init__(self, detailed: bool = False) -> None:
        self.detailed = detailed
        self.removals: list[Removal] = []
        self.decisions: list[Decision] = []
        self.verdict: Verdict | None = None
        self.tree: Any = None        # the page as the body step read it (after the removals)
        self.meta: Any = None        # the metadata cascade's record (scraper.extract.metadata.Metadata)
        self.profile: Any = None     # the site profile whose rules applied, if any
        self.source: str | None = None   # where the body came from (provenance["text"])
        self.notes: list[Note] = []      # what was read and not used, and why (a guard's decision)
        self._order: dict[Any, int] = {}

    def start(self, tree) -> None:
        self.tree = tree
        if self.detailed:
            self._order = {el: i for i, el in enumerate(tree.iter())}

    def remove(self, el, stage: str, rule: str) -> bool:
        """Take ``el`` out of the page, noting the rule; False when it was already out."""
        if el.getparent() is None:
            return False
        path, position = (element_path(el), self._order.get(el, -1)) if self.detailed else ("", -1)
        self.removals.append(Removal(stage, rule, el, path, position))
        drop_element(el)
        return True

    def position(self, el) -> int:
        """The element's place in document order before anything was removed (-1 if unknown)."""
        return self._order.get(el, -1)

    def note(self, stage: str, message: str) -> None:
        self.notes.append(Note(stage, message))

    def adopt(self, other: "Trace") -> None:
        """Become ``other`` (a second extraction of the same page), keeping the notes of both."""
        notes = self.notes + other.notes
        self.__dict__.update(other.__dict__)
        self.notes = notes

    def decide(self, text: str, kept: bool, stage: str, rule: str) -> None:
        self.decisions.append(Decision(text, kept, stage, rule))

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.kept]

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if not d.kept]

    def removed_by(self, stage: str) -> int:
        return sum(1 for r in self.removals if r.stage == stage)
