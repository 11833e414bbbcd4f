"""Gradescope's "Export Submissions": ``submission_metadata.yml`` and a ``submission_<id>/`` folder each.

The metadata is YAML written by Ruby: keys are strings such as
``:submitters:``, ``:name:``, ``:sid:``, ``:email:``, ``:created_at:``, and
some values carry Ruby tags (``!ruby/object:BigDecimal``) that a safe loader
does not know; they are read as plain values, never constructed. Each
submitter of a group submission is a student of their own, with the group's
files; the id is the student's ``sid``, else their email, else the
submission's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from grader.bounds import (
    MAX_ALIAS_NODES,
    MAX_METADATA_BYTES,
    MAX_METADATA_CHARS,
    MAX_METADATA_NODES,
    MAX_SUBMITTERS,
    Unreadable,
    metadata_text,
    read_regular,
    shown,
)
from grader.errors import UsageError
from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, relative

NAME = "gradescope"
TITLE = "Gradescope export"
METADATA = "submission_metadata.yml"


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """A safe loader that reads any unknown tag (Ruby objects, symbols) as the plain value under it.

    Aliases are kept (Ruby writes one for an object it meets twice) when
    what they repeat is small; an alias of more than ``MAX_ALIAS_NODES``
    nodes is read as an ``Expanded`` marker instead, so a "billion laughs"
    of nested aliases costs the field that holds it (a student's name), not
    the class. A document still over ``MAX_METADATA_NODES`` nodes with its
    aliases expanded is refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and _expanded_size(target, self.sizes) > MAX_ALIAS_NODES:
                self.get_event()
                return yaml.ScalarNode(_EXPANDED_TAG, "", event.start_mark, event.end_mark)
        return super().compose_node(parent, index)

    def compose_document(self) -> yaml.Node:
        document = super().compose_document()
        if _expanded_size(document, self.sizes) > MAX_METADATA_NODES:
            raise yaml.YAMLError(f"its aliases expand to over {MAX_METADATA_NODES:,} values")
        self.sizes = {}
        return document


class Expanded:
    """What an alias of too many nodes is read as: never expanded, never shown."""


_EXPANDED_TAG = "tag:grader,2026:alias-too-large"


def _expanded_size(root: yaml.Node, sizes: dict[int, int]) -> int:
    """The number of nodes ``root`` stands for with every alias expanded, memoised in ``sizes`` (by node id).

    Iterative, children first: a deep document cannot overflow the stack here.
    """
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if ready or not children:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_METADATA_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _untagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:ruby", _untagged)
_Loader.add_constructor(_EXPANDED_TAG, lambda loader, node: Expanded())


def matches(root: Path) -> bool:
    return (root / METADATA).is_file()


def load_metadata(path: Path) -> Mapping[str, Any]:
    try:
        text = read_regular(path, limit=MAX_METADATA_BYTES).decode("utf-8", errors="replace")
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except Unreadable as exc:
        raise UsageError(f"{path}: not read as a Gradescope submission_metadata.yml: {exc.reason}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable Gradescope submission_metadata.yml ({exc})") from None
    except (RecursionError, MemoryError):  # PyYAML composes and constructs recursively
        raise UsageError(f"{path}: not read as a Gradescope submission_metadata.yml: nested too deeply") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"{path}: not a Gradescope submission_metadata.yml (expected submission_<id>: entries)")
    return data


def _field(record: Mapping[str, Any], key: str) -> Any:
    """``record[":key:"]``, also accepting the key without Ruby's colons."""
    for candidate in (f":{key}:", f":{key}", key):
        if candidate in record:
            return record[candidate]
    return None


def _text(value: Any, what: str, notes: list[str]) -> str:
    """A name, id or email from the metadata: a plain value, cut to ``MAX_METADATA_CHARS``, else ''."""
    if value is None:
        return ""
    if isinstance(value, Expanded):
        notes.append(f"the export's {what} repeats over {MAX_ALIAS_NODES:,} values: ignored")
        return ""
    if isinstance(value, Mapping | list | tuple | set):  # never stringified: it could be an alias bomb's root
        notes.append(f"the export's {what} is not a plain value: ignored")
        return ""
    text, cut = metadata_text(str(value).strip())
    if cut:
        notes.append(f"the export's {what} is over {MAX_METADATA_CHARS} characters: cut")
    return text


def read(root: Path) -> Reading:
    metadata = load_metadata(root / METADATA)
    unattributed: list[UnattributedFile] = []
    students: list[Student] = []
    listed: set[str] = set()
    for key, record in metadata.items():
        submission = str(key)
        listed.add(submission)
        folder = root / submission
        if not isinstance(record, Mapping):
            continue
        parts = (Part("", folder),) if folder.is_dir() and not folder.is_symlink() else ()
        found = [] if parts else [f"{shown(submission)}: no files in the export"]
        submitters = _field(record, "submitters")
        people = [p for p in submitters if isinstance(p, Mapping)] if isinstance(submitters, list) else []
        if not people:
            people = [{}]
        for person in people[:MAX_SUBMITTERS]:
            notes = list(found)
            raw_id = (
                _text(_field(person, "sid"), "student id", notes)
                or _text(_field(person, "email"), "email", notes)
                or metadata_text(submission)[0]
            )
            name = _text(_field(person, "name"), "name", notes) or raw_id
            late = _field(record, "late")
            late_flag = late if isinstance(late, bool) else None
            students.append(Student(safe_id(raw_id), name, parts, late_flag, tuple(dict.fromkeys(notes))))
    for path in entries(root):
        if path.name != METADATA and path.name not in listed:
            unattributed.append(UnattributedFile(relative(path, root), f"not listed in {METADATA}"))
    return Reading(tuple(students), tuple(unattributed))
