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

from grader.errors import UsageError
from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, relative

NAME = "gradescope"
TITLE = "Gradescope export"
METADATA = "submission_metadata.yml"
_METADATA_LIMIT = 64 * 1024 * 1024


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """A safe loader that reads any unknown tag (Ruby objects, symbols) as the plain value under it."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _untagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:ruby", _untagged)


def matches(root: Path) -> bool:
    return (root / METADATA).is_file()


def load_metadata(path: Path) -> Mapping[str, Any]:
    try:
        if path.stat().st_size > _METADATA_LIMIT:
            raise UsageError(f"{path}: over {_METADATA_LIMIT // 2**20} MiB, not a Gradescope metadata file")
        data = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_Loader)  # _Loader is a SafeLoader
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: not a readable Gradescope submission_metadata.yml ({exc})") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"{path}: not a Gradescope submission_metadata.yml (expected submission_<id>: entries)")
    return data


def _field(record: Mapping[str, Any], key: str) -> Any:
    """``record[":key:"]``, also accepting the key without Ruby's colons."""
    for candidate in (f":{key}:", f":{key}", key):
        if candidate in record:
            return record[candidate]
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


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
        notes = () if parts else (f"{submission}: no files in the export",)
        submitters = _field(record, "submitters")
        people = [p for p in submitters if isinstance(p, Mapping)] if isinstance(submitters, list) else []
        if not people:
            people = [{}]
        for person in people:
            raw_id = _text(_field(person, "sid")) or _text(_field(person, "email")) or submission
            name = _text(_field(person, "name")) or raw_id
            late = _field(record, "late")
            students.append(Student(safe_id(raw_id), name, parts, late if isinstance(late, bool) else None, notes))
    for path in entries(root):
        if path.name != METADATA and path.name not in listed:
            unattributed.append(UnattributedFile(relative(path, root), f"not listed in {METADATA}"))
    return Reading(tuple(students), tuple(unattributed))
