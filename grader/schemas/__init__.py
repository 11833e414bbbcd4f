"""The JSON Schemas of the result format, shipped with the package.

``report.schema.json`` is one student's result (``grader check --format json``,
``<student>/result.json``); ``results.schema.json`` is a class's
``results.json``, whose students are reports. The grader itself never
validates against them: they document the contract for the programs that read
it, and the test suite holds every JSON output to them.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

#: Schema name -> file, as shipped in ``grader/schemas/``.
SCHEMA_FILES = {"report": "report.schema.json", "results": "results.schema.json"}


def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` ("report" or "results") as a dict."""
    text = resources.files(__package__).joinpath(SCHEMA_FILES[name]).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
