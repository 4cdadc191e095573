"""The runs slice (``actions-runs.openapi.json``): its derived documents and Prism mocks.

The four run operations (list a repository's runs, list a workflow's runs, get a run, get
an attempt) are GitHub's own description, copied verbatim like the jobs slice. The
documents derived from it get the jobs slice's fix-ups where they apply (3, media type;
``servers``) and one of their own:

5. **``created`` is not a date-time** (:func:`runs_document`). The ``created`` parameter is
   declared ``type: string, format: date-time``, but GitHub takes search qualifiers
   (``>=2026-01-01``, ``2026-01-01T00:00:00Z..2026-01-31T23:59:59Z``), which a format check
   refuses. The derived copy drops ``format`` from that one parameter; nothing else changes.
   :func:`test_conformance_runs.test_fixup_5_is_needed` shows the quirk is real.
6. **``workflow_id`` is ``oneOf`` integer or string** (:func:`runs_document`). Prism
   coerces a path parameter, so a numeric id (``161335``) matches both branches and fails
   "exactly one"; no numeric id could ever pass. The derived copy says ``anyOf``.

Quirks kept as they are: the ``status`` filter's enum lacks ``startup_failure`` (so the
client sends it, and Prism would flag it: not exercised against Prism); a run's ``status``
and ``conclusion`` are free, nullable strings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance_prism import PrismServer, start_prism
from conformance_support import GITHUB_MEDIA_TYPE, OPENAPI_DIR, JSONDict, nullable_enums_fixed
from openapi_schema_validator import OAS30Validator, oas30_format_checker

RUNS_SPEC_PATH = OPENAPI_DIR / "actions-runs.openapi.json"
REPO_RUNS_PATH = "/repos/{owner}/{repo}/actions/runs"
WORKFLOW_RUNS_PATH = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"
RUN_PATH = "/repos/{owner}/{repo}/actions/runs/{run_id}"
RUN_ATTEMPT_PATH = "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}"


def load_runs_spec() -> JSONDict:
    """A fresh copy of the runs slice, as published."""
    spec: JSONDict = json.loads(RUNS_SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def created_fixed(spec: Mapping[str, Any]) -> JSONDict:
    """Fix-up 5: the ``created`` parameter without its ``date-time`` format (a copy)."""
    fixed: JSONDict = copy.deepcopy(dict(spec))
    fixed["components"]["parameters"]["created"]["schema"].pop("format", None)
    return fixed


def runs_document(spec: Mapping[str, Any], mock_url: str) -> JSONDict:
    """The copy of the runs slice Prism serves: fix-ups 3 (media type), 5 and 6, servers."""
    document = created_fixed(spec)
    workflow_id = document["components"]["parameters"]["workflow-id"]["schema"]
    workflow_id["anyOf"] = workflow_id.pop("oneOf")  # fix-up 6
    document["servers"] = [{"url": mock_url}]
    for item in document["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                content = response.get("content")
                if isinstance(content, dict) and "application/json" in content:
                    content.setdefault(
                        GITHUB_MEDIA_TYPE, copy.deepcopy(content["application/json"])
                    )
    return document


def exact_runs_validator(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> OAS30Validator:
    """A validator for ``schema`` in which ``workflow-run`` requires every property and
    allows no other (stricter than GitHub's description, on purpose), fix-up 2 applied."""
    components = nullable_enums_fixed(spec["components"])
    run = components["schemas"]["workflow-run"]
    run["required"] = sorted(run["properties"])
    run["additionalProperties"] = False
    root = {**copy.deepcopy(dict(schema)), "components": components}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def start_runs_prism(executable: str, folder: Path, *, mode: str) -> PrismServer:
    """``prism mock`` of the runs document, ``--errors`` (static) or ``--dynamic``."""
    return start_prism(
        executable,
        folder,
        mode=mode,
        name="runs",
        document_for=lambda url: runs_document(load_runs_spec(), url),
    )
