"""GitHub's OpenAPI slices, the documented fix-ups, and what the conformance tests share.

The slices in ``../shared/openapi/`` are GitHub's own description, copied verbatim (see
``SOURCE.md`` there). Nothing here edits them: every test works on a *derived* copy made in
memory, and each difference from GitHub's text is one of these fix-ups:

1. **Examples** (:func:`fixed_example`). GitHub's ``job`` and ``job-paginated`` examples lack
   ``created_at``, which the ``job`` schema requires, and ``run_attempt``. The fix-up adds
   :data:`EXAMPLE_FIXUP` to each example job, only where the key is absent.
2. **Nullable enums** (:func:`validator_for`). ``job.conclusion`` is ``nullable: true`` with an
   ``enum`` that has no ``null`` in it, so an OAS 3.0 validator (openapi-schema-validator's
   ``OAS30Validator``) rejects ``"conclusion": null``, the normal value for a job that has not
   completed. The validators get a schema in which ``None`` is appended to the ``enum`` of
   every ``nullable`` schema.
3. **Media type** (:func:`prism_document`). Prism answers 406 to GitHub's
   ``Accept: application/vnd.github+json`` because the description lists only
   ``application/json``; the document Prism serves lists ``application/vnd.github+json`` next
   to it in every response, with the same schema and examples. ``servers`` is set to the
   mock's own URL. What the client sends is never changed.
4. **Link example, static mock only** (:func:`prism_document` with ``static_links``). Prism
   serves the ``Link`` header's example, which points at ``https://api.github.com/resource``.
   The static mock's document points it at a listing on the mock itself, so the paginator's
   follow-up requests reach Prism and are validated too. The dynamic mock keeps GitHub's
   ``Link``: the paginator must refuse to follow it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from openapi_schema_validator import OAS30Validator, oas30_format_checker

JSONDict = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_DIR = REPO_ROOT.parent / "shared" / "openapi"
SPECS = {
    "api.github.com": OPENAPI_DIR / "actions-jobs.openapi.json",
    "ghes-3.20": OPENAPI_DIR / "actions-jobs.ghes.openapi.json",
}
GITHUB_MEDIA_TYPE = "application/vnd.github+json"

JOB_PATH = "/repos/{owner}/{repo}/actions/jobs/{job_id}"
LOGS_PATH = "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"
LIST_PATH = "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
ATTEMPT_PATH = "/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs"

#: Fix-up 1: what GitHub's example jobs lack. Any RFC 3339 instant before ``started_at``
#: (2020-01-20T17:42:40Z in the examples) and the first attempt would do.
EXAMPLE_FIXUP: Mapping[str, object] = {"created_at": "2020-01-20T17:42:35Z", "run_attempt": 1}

#: Where the static mock's ``Link`` example points (fix-up 4), per listing operation:
#: the owner, repository and run of GitHub's own example job.
STATIC_LINK_TARGETS = {
    LIST_PATH: "/repos/octo-org/octo-repo/actions/runs/29679449/jobs",
    ATTEMPT_PATH: "/repos/octo-org/octo-repo/actions/runs/29679449/attempts/1/jobs",
}


@cache
def _load(name: str) -> str:
    return SPECS[name].read_text(encoding="utf-8")


def load_spec(name: str = "api.github.com") -> JSONDict:
    """A fresh copy of GitHub's slice ``name`` (a key of :data:`SPECS`), as published."""
    spec: JSONDict = json.loads(_load(name))
    return spec


def resolve(spec: Mapping[str, Any], node: Any) -> Any:
    """``node`` with a local ``$ref`` (``#/components/...``) followed, else ``node``."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = spec
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


# --------------------------------------------------------------------------- fix-up 1


def fixed_job(job: Mapping[str, Any]) -> JSONDict:
    """Fix-up 1 for one example job: :data:`EXAMPLE_FIXUP` added where absent."""
    fixed = copy.deepcopy(dict(job))
    for key, value in EXAMPLE_FIXUP.items():
        fixed.setdefault(key, value)
    return fixed


def fixed_example(spec: Mapping[str, Any], name: str) -> JSONDict:
    """The spec's example ``name`` (``job`` or ``job-paginated``) with fix-up 1 applied."""
    value = copy.deepcopy(spec["components"]["examples"][name]["value"])
    if name == "job":
        return fixed_job(value)
    value["jobs"] = [fixed_job(job) for job in value["jobs"]]
    return dict(value)


# --------------------------------------------------------------------------- fix-up 2


def _walk_schemas(node: Any) -> Iterator[JSONDict]:
    """Every dict inside ``node`` (schemas, and harmlessly everything else)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_schemas(value)


def nullable_enums_fixed(components: Mapping[str, Any]) -> JSONDict:
    """Fix-up 2: ``None`` appended to the ``enum`` of every ``nullable`` schema (a copy)."""
    fixed: JSONDict = copy.deepcopy(dict(components))
    for schema in _walk_schemas(fixed):
        enum = schema.get("enum")
        if schema.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
    return fixed


def exact(components: Mapping[str, Any]) -> JSONDict:
    """Components where ``job`` and its steps require every property and allow no other.

    Stricter than GitHub's description, on purpose: the fake must serve every field GitHub
    serves (``run_attempt`` and ``steps`` included) and nothing GitHub's description lacks.
    """
    result: JSONDict = copy.deepcopy(dict(components))
    job = result["schemas"]["job"]
    for schema in (job, job["properties"]["steps"]["items"]):
        schema["required"] = sorted(schema["properties"])
        schema["additionalProperties"] = False
    result["schemas"]["basic-error"]["additionalProperties"] = False
    return result


def validator_for(
    spec: Mapping[str, Any], schema: Mapping[str, Any], *, strict: bool = False
) -> OAS30Validator:
    """An OAS 3.0 validator (formats checked) for ``schema`` with fix-up 2 applied.

    ``schema`` may ``$ref`` the spec's components. ``strict`` adds :func:`exact`; objects
    written inline in an operation (the page object) are closed by the caller.
    """
    components = nullable_enums_fixed(spec["components"])
    if strict:
        components = exact(components)
    root = {**copy.deepcopy(dict(schema)), "components": components}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def raw_validator_for(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> OAS30Validator:
    """A validator for ``schema`` WITHOUT fix-up 2: GitHub's description as published."""
    root = {**copy.deepcopy(dict(schema)), "components": copy.deepcopy(spec["components"])}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def response_schema(spec: Mapping[str, Any], path: str, status: int) -> JSONDict | None:
    """The JSON schema the spec documents for ``GET path`` answering ``status``, or None."""
    responses = spec["paths"][path]["get"]["responses"]
    response = resolve(spec, responses.get(str(status)))
    if not isinstance(response, Mapping) or "content" not in response:
        return None
    schema: JSONDict = copy.deepcopy(response["content"]["application/json"]["schema"])
    return schema


def problems(validator: OAS30Validator, instance: object) -> list[str]:
    """Every validation error as ``$.json.path: message``."""
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: e.json_path)
    ]


# --------------------------------------------------------------------------- fix-ups 3 and 4


def _responses(document: JSONDict) -> Iterator[JSONDict]:
    for item in document["paths"].values():
        for operation in item.values():
            yield from operation["responses"].values()
    yield from document["components"].get("responses", {}).values()


def prism_document(spec: Mapping[str, Any], mock_url: str, *, static_links: bool) -> JSONDict:
    """The copy of ``spec`` Prism serves: fix-ups 1 and 3, and 4 when ``static_links``."""
    document: JSONDict = copy.deepcopy(dict(spec))
    document["servers"] = [{"url": mock_url}]
    for response in _responses(document):
        content = response.get("content")
        if isinstance(content, dict) and "application/json" in content:
            content.setdefault(GITHUB_MEDIA_TYPE, copy.deepcopy(content["application/json"]))
    examples = document["components"]["examples"]
    for name in ("job", "job-paginated"):
        examples[name]["value"] = fixed_example(spec, name)
    if static_links:
        for path, target in STATIC_LINK_TARGETS.items():
            url = f"{mock_url}{target}?per_page=1&page=2"
            headers = document["paths"][path]["get"]["responses"]["200"]["headers"]
            headers["Link"] = {
                "schema": {"type": "string"},
                "example": f'<{url}>; rel="next", <{url}>; rel="last"',
            }
    return document


# --------------------------------------------------------------------------- the wire


@dataclass
class Exchange:
    """One HTTP request as it left aiohttp, and the status and headers that came back."""

    method: str
    url: str
    request_headers: dict[str, str]
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def host(self) -> str:
        """The host the request went to."""
        return urlsplit(self.url).hostname or ""

    def violations(self) -> list[JSONDict]:
        """Prism's ``sl-violations`` header, parsed (empty when absent)."""
        raw = self.response_headers.get("sl-violations")
        return list(json.loads(raw)) if raw else []

    def describe(self) -> str:
        """One line for failure messages (request headers, and so the token, left out)."""
        return f"{self.method} {self.url} -> {self.status} {self.violations() or ''}".strip()


class WireRecorder:
    """Records every request an ``aiohttp.ClientSession`` sends, via aiohttp's tracing.

    Hand ``recorder.session()`` to ``Client(session=...)``: this sees exactly what the
    client put on the wire, without changing any of it.
    """

    def __init__(self) -> None:
        """Start with nothing recorded."""
        self.exchanges: list[Exchange] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_end.append(self._on_end)
        self.config.on_request_exception.append(self._on_exception)

    def session(self) -> aiohttp.ClientSession:
        """A plain session whose requests are recorded (the caller closes it)."""
        return aiohttp.ClientSession(trace_configs=[self.config])

    async def _on_end(
        self,
        _session: aiohttp.ClientSession,
        _ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        self.exchanges.append(
            Exchange(
                method=params.method,
                url=str(params.url),
                request_headers=dict(params.headers),
                status=params.response.status,
                response_headers={k.lower(): v for k, v in params.response.headers.items()},
            )
        )

    async def _on_exception(
        self,
        _session: aiohttp.ClientSession,
        _ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        self.exchanges.append(
            Exchange(
                method=params.method,
                url=str(params.url),
                request_headers=dict(params.headers),
                error=type(params.exception).__name__,
            )
        )

    def hosts(self) -> set[str]:
        """Every host a request went to."""
        return {exchange.host for exchange in self.exchanges}
