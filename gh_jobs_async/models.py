"""Typed, frozen models of GitHub's workflow-job objects, and their one converter.

The classes mirror the ``job`` schema of GitHub's OpenAPI description
(API version 2022-11-28): every property is an attribute, nullable ones are
``Optional``. ``status`` and ``conclusion`` decode to the :class:`JobStatus` /
:class:`JobConclusion` constants when GitHub sends a known value and to a plain
``str`` otherwise, so a value GitHub adds later never breaks decoding.

Decoding goes through ONE private cattrs converter (:data:`_CONVERTER`), lenient
about unknown fields. :func:`make_converter` with ``strict=True`` builds the
strict twin that the test-suite uses to reject any field the models lack.

In production the same hooks run in a fast twin (:data:`_FAST_CONVERTER`): generated
functions that inline them (``_fastgen``), after orjson when the ``fast`` extra is
installed. It gives the same objects; a body it refuses is decoded again by
:data:`_CONVERTER`, whose DecodeError names the JSON path and the value.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, get_args

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn
from cattrs.preconf.json import make_converter as _make_json_converter

from . import _fastgen
from .exceptions import DecodeError, _shown

_orjson_loads: Callable[[bytes | str], object] | None
try:  # the optional `fast` extra
    from orjson import loads as _orjson_loads  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - exercised by installs without the extra
    _orjson_loads = None

__all__ = [
    "CacheStats",
    "Change",
    "HarvestSummary",
    "Job",
    "JobConclusion",
    "JobStatus",
    "JobUpdate",
    "JobsPage",
    "LogEvent",
    "LogLocation",
    "LogResult",
    "LogStatus",
    "RateLimit",
    "Step",
    "StepStatus",
    "CommitPerson",
    "PullRequestRef",
    "PullRequestRepo",
    "ReferencedWorkflow",
    "RunCommit",
    "RunConclusion",
    "RunPullRequest",
    "RunRepository",
    "RunStatus",
    "RunUser",
    "RunsPage",
    "WorkflowRun",
    "decode_job",
    "decode_jobs_page",
    "decode_run",
    "decode_runs_page",
    "make_converter",
]


class JobStatus(enum.StrEnum):
    """Known values of ``job.status``; other strings may appear later."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    WAITING = "waiting"
    REQUESTED = "requested"
    PENDING = "pending"


class JobConclusion(enum.StrEnum):
    """Known values of ``job.conclusion`` (and of ``step.conclusion``)."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    ACTION_REQUIRED = "action_required"


class StepStatus(enum.StrEnum):
    """Known values of ``step.status``."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@attrs.frozen
class Step:
    """One step of a job (``job.steps[]``)."""

    name: str
    status: StepStatus | str
    conclusion: JobConclusion | str | None
    number: int
    started_at: datetime | None = None
    completed_at: datetime | None = None


@attrs.frozen
class Job:
    """A workflow job, as ``GET /repos/{owner}/{repo}/actions/jobs/{job_id}`` returns it."""

    id: int
    run_id: int
    run_url: str
    node_id: str
    head_sha: str
    url: str
    html_url: str | None
    status: JobStatus | str
    conclusion: JobConclusion | str | None
    created_at: datetime
    started_at: datetime
    completed_at: datetime | None
    name: str
    check_run_url: str
    labels: tuple[str, ...]
    runner_id: int | None
    runner_name: str | None
    runner_group_id: int | None
    runner_group_name: str | None
    workflow_name: str | None
    head_branch: str | None
    run_attempt: int | None = None
    steps: tuple[Step, ...] = ()

    @property
    def duration(self) -> float | None:
        """Seconds from start to completion, or ``None`` while the job has not completed."""
        if self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The job as GitHub's JSON object (timestamps in GitHub's ``...Z`` form when UTC)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        return data


@attrs.frozen
class JobsPage:
    """One page of a job listing.

    ``total_count`` is GitHub's count of all jobs in the listing (every page);
    ``links`` maps each ``Link`` relation (``first``, ``prev``, ``next``,
    ``last``) present on the answer to its URL.
    """

    total_count: int
    jobs: tuple[Job, ...]
    links: Mapping[str, str] = attrs.field(factory=lambda: MappingProxyType({}))


@attrs.frozen
class _JobsPageBody:
    """The JSON body of a list-jobs answer (``links`` come from a header)."""

    total_count: int
    jobs: tuple[Job, ...]


class RunStatus(enum.StrEnum):
    """Known values of ``workflow_run.status``; other strings may appear later."""

    REQUESTED = "requested"
    QUEUED = "queued"
    PENDING = "pending"
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class RunConclusion(enum.StrEnum):
    """Known values of ``workflow_run.conclusion``; other strings may appear later."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    ACTION_REQUIRED = "action_required"
    STARTUP_FAILURE = "startup_failure"
    STALE = "stale"


# The nested objects of a run are lean: the fields a harvest or a bot uses. They are
# decoded leniently even by the strict converter (GitHub's simple-user and
# minimal-repository carry dozens of URL templates nobody reads).


@attrs.frozen
class RunUser:
    """The ``actor`` / ``triggering_actor`` of a run (GitHub's ``simple-user``, lean)."""

    login: str
    id: int
    node_id: str
    type: str
    site_admin: bool
    html_url: str
    avatar_url: str


@attrs.frozen
class RunRepository:
    """``repository`` / ``head_repository`` of a run (GitHub's ``minimal-repository``, lean)."""

    id: int
    node_id: str
    name: str
    full_name: str
    owner: RunUser
    private: bool
    fork: bool
    html_url: str
    url: str
    description: str | None


@attrs.frozen
class CommitPerson:
    """The author or committer of a run's head commit."""

    name: str
    email: str


@attrs.frozen
class RunCommit:
    """``head_commit`` of a run (GitHub's ``simple-commit``)."""

    id: str
    tree_id: str
    message: str
    timestamp: datetime
    author: CommitPerson | None
    committer: CommitPerson | None


@attrs.frozen
class PullRequestRepo:
    """The repository of one side of a pull request."""

    id: int
    url: str
    name: str


@attrs.frozen
class PullRequestRef:
    """One side (``head`` or ``base``) of a pull request."""

    ref: str
    sha: str
    repo: PullRequestRepo


@attrs.frozen
class RunPullRequest:
    """One of a run's ``pull_requests`` (GitHub's ``pull-request-minimal``)."""

    id: int
    number: int
    url: str
    head: PullRequestRef
    base: PullRequestRef


@attrs.frozen
class ReferencedWorkflow:
    """A reusable workflow the run called."""

    path: str
    sha: str
    ref: str | None = None


@attrs.frozen
class WorkflowRun:
    """A workflow run, as ``GET /repos/{owner}/{repo}/actions/runs/{run_id}`` returns it.

    Every property of GitHub's ``workflow-run`` schema; the required ones first.
    ``status`` and ``conclusion`` are :class:`RunStatus` / :class:`RunConclusion`
    constants for known values, plain strings for new ones, or ``None``.
    """

    id: int
    node_id: str
    head_branch: str | None
    run_number: int
    display_title: str
    event: str
    status: RunStatus | str | None
    conclusion: RunConclusion | str | None
    head_sha: str
    path: str
    workflow_id: int
    url: str
    html_url: str
    created_at: datetime
    updated_at: datetime
    head_commit: RunCommit | None
    head_repository: RunRepository | None  # null for a run from a fork since deleted
    repository: RunRepository
    jobs_url: str
    logs_url: str
    check_suite_url: str
    cancel_url: str
    rerun_url: str
    artifacts_url: str
    workflow_url: str
    pull_requests: tuple[RunPullRequest, ...] | None
    name: str | None = None
    check_suite_id: int | None = None
    check_suite_node_id: str | None = None
    run_attempt: int | None = None
    referenced_workflows: tuple[ReferencedWorkflow, ...] | None = None
    actor: RunUser | None = None
    triggering_actor: RunUser | None = None
    run_started_at: datetime | None = None
    previous_attempt_url: str | None = None
    head_repository_id: int | None = None

    @property
    def completed(self) -> bool:
        """Whether the run has finished (``status`` is ``completed``)."""
        return self.status == RunStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON object (lean nested objects; timestamps in GitHub's form)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self)
        return data


@attrs.frozen
class RunsPage:
    """One page of a runs listing: GitHub's ``total_count`` (uncapped) and its runs."""

    total_count: int
    runs: tuple[WorkflowRun, ...]


@attrs.frozen
class _RunsPageBody:
    total_count: int
    workflow_runs: tuple[WorkflowRun, ...]


_LEAN_MODELS: tuple[type, ...] = (
    RunUser,
    RunRepository,
    CommitPerson,
    RunCommit,
    PullRequestRepo,
    PullRequestRef,
    RunPullRequest,
    ReferencedWorkflow,
)


@attrs.frozen
class RateLimit:
    """The primary rate-limit state GitHub reported in its ``x-ratelimit-*`` headers."""

    limit: int
    remaining: int
    used: int | None
    reset_at: datetime
    resource: str | None = None

    @property
    def reset_epoch(self) -> float:
        """``reset_at`` as UTC epoch seconds."""
        return self.reset_at.timestamp()


@attrs.frozen
class CacheStats:
    """What the conditional-request cache did: ``Client.cache_stats``.

    ``hits`` are GETs answered 304 and served from the cache (no primary budget spent);
    ``misses`` are cacheable GETs that brought a full answer; ``entries`` and ``bytes``
    are what it holds now, within ``max_entries`` and ``max_bytes``.
    """

    hits: int
    misses: int
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int


class Change(enum.StrEnum):
    """What a :class:`JobUpdate` reports about its job."""

    FIRST_SEEN = "first_seen"  # the watch sees this job for the first time
    STATUS = "status"  # ``status`` moved on (never backwards)
    CONCLUSION = "conclusion"  # ``conclusion`` was set or changed
    STEPS = "steps"  # more steps completed


@attrs.frozen
class JobUpdate:
    """A change of one job observed by ``Client.watch_run``: the job now, and what changed.

    ``previous_status`` and ``previous_conclusion`` are what the watch saw before (``None``
    when first seen); ``steps_done`` are the steps newly seen completed, by number. Only
    what was observed is reported: a job seen queued and then completed has one update,
    status ``queued`` -> ``completed``, and no invented ``in_progress``.
    """

    job: Job
    changes: frozenset[Change]
    previous_status: JobStatus | str | None = None
    previous_conclusion: JobConclusion | str | None = None
    steps_done: tuple[Step, ...] = ()

    @property
    def first_seen(self) -> bool:
        """Whether this is the first observation of the job."""
        return Change.FIRST_SEEN in self.changes

    @property
    def completed(self) -> bool:
        """Whether this update is the one that saw the job completed (once per job)."""
        return self.job.status == JobStatus.COMPLETED and (
            Change.STATUS in self.changes or Change.FIRST_SEEN in self.changes
        )


_E = TypeVar("_E", bound=enum.StrEnum)


def _parse_datetime(value: object, _type: object) -> datetime:
    """Decode an ISO 8601 timestamp (``...Z`` or ``...-08:00``) to an aware datetime.

    A timestamp without an offset is taken as UTC, which is what GitHub means.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 timestamp string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_fastgen.inline(_parse_datetime, iso_datetime=True)


def _open_enum(enum_type: type[_E]) -> Callable[[object, object], _E | str]:
    """A hook that maps known strings to ``enum_type`` members and keeps others as ``str``."""
    members: dict[str, _E] = {member.value: member for member in enum_type}

    def structure(value: object, _type: object) -> _E | str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return members.get(value, value)

    return _fastgen.inline(structure, table=members)


def _format_datetime(value: datetime) -> str:
    """GitHub's form: ``2020-01-20T17:42:40Z`` in UTC, ISO 8601 with an offset otherwise."""
    if value.utcoffset() == timedelta(0):
        text = value.replace(tzinfo=None).isoformat()
        return text + "Z"
    return value.isoformat()


def _strict_str(value: object, _type: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_int(value: object, _type: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_bool(value: object, _type: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


_fastgen.inline(_strict_str, exact=str)
_fastgen.inline(_strict_int, exact=int)
_fastgen.inline(_strict_bool, exact=bool)


def make_converter(*, strict: bool = False) -> cattrs.Converter:
    """Build the converter for the models.

    ``strict=True`` rejects keys the models do not know (used by the tests that
    compare the models with GitHub's OpenAPI description); production code uses
    the lenient module converter, because GitHub adds fields over time.
    """
    return _with_hooks(_make_json_converter(forbid_extra_keys=strict, detailed_validation=True))


def _with_hooks(converter: cattrs.Converter) -> cattrs.Converter:
    """``converter`` with the hooks of the models registered (shared by every converter).

    Register new hooks here, not on :data:`_CONVERTER`: the fast production converter is
    built by this function too, and must structure exactly as the detailed one does.
    """
    converter.register_unstructure_hook(datetime, _format_datetime)
    # Direct hooks for the optional forms too: cattrs' generic Optional dispatch
    # costs about a third of the decoding time of a 100-job page.
    scalar_hooks: tuple[tuple[type, Callable[[object, object], object]], ...] = (
        (datetime, _parse_datetime),
        (str, _strict_str),
        (int, _strict_int),
        (bool, _strict_bool),  # after int: bool is an int subclass, and its hook would refuse it
    )
    for type_, scalar_hook in scalar_hooks:
        converter.register_structure_hook(type_, scalar_hook)
        converter.register_structure_hook(type_ | None, _optional(scalar_hook))
    for enum_type in (JobStatus, JobConclusion, StepStatus, RunStatus, RunConclusion):
        hook = _open_enum(enum_type)
        # Predicate hooks, registered after the preconf converter's native-union
        # passthrough: as plain union hooks they lose to it, and known values
        # would stay plain ``str`` instead of becoming the enum constants.
        _register_exact(converter, enum_type | str, hook)
        _register_exact(converter, enum_type | str | None, _optional(hook))
    # JSON arrays only: cattrs would turn the string "ab" into ("a", "b"). In this
    # order, so that each generated hook picks up the wrappers registered before it.
    for seq_type in (tuple[str, ...], tuple[Step, ...], tuple[Job, ...]):
        _register_exact(converter, seq_type, _array_only(converter.get_structure_hook(seq_type)))
        _fastgen.inline(converter.get_structure_hook(seq_type), items=get_args(seq_type)[0])
    _register_run_hooks(converter)
    return converter


def _register_run_hooks(converter: cattrs.Converter) -> None:
    """Hooks of `WorkflowRun`'s nested objects: lenient always, arrays only, nullable.

    The strict converter gets lenient hooks for the lean nested models (GitHub's
    simple-user and minimal-repository carry dozens of fields nobody reads); the other
    converters are lenient already and keep their own (the fast one's generated) hooks.
    """
    if getattr(converter, "forbid_extra_keys", False):
        for lean in _LEAN_MODELS:
            hook: Callable[[Any, Any], object] = make_dict_structure_fn(
                lean, converter, _cattrs_forbid_extra_keys=False
            )
            converter.register_structure_hook(lean, hook)
            converter.register_structure_hook(lean | None, _optional(hook))
    _register_exact(
        converter,
        tuple[WorkflowRun, ...],
        _array_only(converter.get_structure_hook(tuple[WorkflowRun, ...])),
    )
    for seq_type in (tuple[RunPullRequest, ...], tuple[ReferencedWorkflow, ...]):
        array = _array_only(converter.get_structure_hook(seq_type))
        _register_exact(converter, seq_type, array)
        _fastgen.inline(array, items=get_args(seq_type)[0])
        _register_exact(converter, seq_type | None, _optional(_as(array, seq_type)))


def _make_fast_converter() -> cattrs.Converter:
    """The production decoder: the same hooks, called from generated functions that inline them.

    Lenient, and its errors carry no JSON path: :func:`_structure` decodes a body it refuses
    again with the detailed converter, which names the path and the value.
    """
    converter = _make_json_converter(forbid_extra_keys=False, detailed_validation=False)
    _fastgen.install(converter)
    return _with_hooks(converter)


def _register_exact(
    converter: cattrs.Converter, type_: object, hook: Callable[[Any, Any], object]
) -> None:
    converter.register_structure_hook_func(lambda t: t == type_, hook)


def _array_only(hook: Callable[[Any, Any], object]) -> Callable[[object, object], object]:
    def structure(value: object, type_: object) -> object:
        if not isinstance(value, list):
            raise TypeError(f"expected a JSON array, got {type(value).__name__}")
        return hook(value, type_)

    return structure


def _as(
    hook: Callable[[object, object], object], type_: object
) -> Callable[[object, object], object]:
    """``hook`` always called with ``type_`` (a generic hook reads its item type from it)."""

    def structure(value: object, _type: object) -> object:
        return hook(value, type_)

    return structure


def _optional(hook: Callable[[object, object], object]) -> Callable[[object, object], object]:
    def structure(value: object, type_: object) -> object:
        return None if value is None else hook(value, type_)

    return _fastgen.inline(structure, optional=hook)


_CONVERTER = make_converter()  # detailed: names the JSON path of what does not fit
_FAST_CONVERTER = _make_fast_converter()  # production: the same results, fewer calls

_T = TypeVar("_T")


def _structure(data: object, cls: type[_T], converter: cattrs.Converter | None) -> _T:
    """Structure ``data`` into ``cls``, turning cattrs' grouped errors into one DecodeError."""
    if not isinstance(data, Mapping):
        raise DecodeError(
            f"$: expected a JSON object, got {type(data).__name__}", path="$", value=data
        )
    if converter is None:
        # The fast decoder refuses whatever the detailed one would, without a path: then
        # the detailed one decodes again, to raise the DecodeError that names it.
        with contextlib.suppress(Exception):
            return _FAST_CONVERTER.structure(data, cls)
    conv = converter if converter is not None else _CONVERTER
    try:
        return conv.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        path, value, reason, count = _first_leaf(exc, data)
        more = f" (and {count - 1} more problems)" if count > 1 else ""
        raise DecodeError(
            f"{path}: {reason}, got {_shown(value)}{more}", path=path, value=value
        ) from exc


def _first_leaf(exc: BaseException, data: object) -> tuple[str, object, str, int]:
    leaves = list(_leaves(exc, []))
    parts, leaf = leaves[0]
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    value = _lookup(data, parts)
    if isinstance(leaf, KeyError):
        return path, None, "required field is missing", len(leaves)
    if isinstance(leaf, ForbiddenExtraKeysError):
        extra = ", ".join(sorted(leaf.extra_fields))
        return path, sorted(leaf.extra_fields), f"unknown field(s) {extra}", len(leaves)
    return path, value, str(leaf) or type(leaf).__name__, len(leaves)


def _leaves(
    exc: BaseException, parts: list[str | int]
) -> Iterator[tuple[list[str | int], BaseException]]:
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            yield from _leaves(sub, [*parts, note.name])
        for sub in without:
            yield from _leaves(sub, parts)
    elif isinstance(exc, IterableValidationError):
        with_index, without_index = exc.group_exceptions()
        for sub, inote in with_index:
            yield from _leaves(sub, [*parts, inote.index])
        for sub in without_index:
            yield from _leaves(sub, parts)
    else:
        yield parts, exc


def _lookup(data: object, parts: Sequence[str | int]) -> object:
    for part in parts:
        if isinstance(part, int) and isinstance(data, Sequence) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, Mapping):
            data = data.get(part)
        else:
            return None
    return data


def _loads(body: bytes | str | object) -> object:
    if not isinstance(body, bytes | str):
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"$: body is not valid JSON ({exc})", path="$", value=None) from None
    except RecursionError:  # e.g. "[[[[..." nested deeper than the interpreter allows
        raise DecodeError("$: body is nested too deeply", path="$", value=None) from None


def _decode(body: bytes | str | object, cls: type[_T], converter: cattrs.Converter | None) -> _T:
    """Parse and structure ``body``; the production decoder parses with orjson when installed."""
    if converter is None and _orjson_loads is not None and isinstance(body, bytes | str):
        # orjson refuses some JSON that json accepts (NaN, lone surrogates, UTF-16, a BOM)
        # and reads integers past 64 bits as floats: whatever the fast path does not
        # decode, json and the detailed path decide, as without orjson.
        with contextlib.suppress(Exception):
            data = _orjson_loads(body)
            if isinstance(data, Mapping):
                return _FAST_CONVERTER.structure(data, cls)
    return _structure(_loads(body), cls, converter)


def decode_job(
    body: bytes | str | Mapping[str, Any], *, converter: cattrs.Converter | None = None
) -> Job:
    """Decode one job from a JSON body (bytes/str) or an already parsed mapping."""
    return _decode(body, Job, converter)


def decode_jobs_page(
    body: bytes | str | Mapping[str, Any],
    links: Mapping[str, str] | None = None,
    *,
    converter: cattrs.Converter | None = None,
) -> JobsPage:
    """Decode a list-jobs body; ``links`` are the parsed ``Link`` relations of the answer."""
    parsed = _decode(body, _JobsPageBody, converter)
    return JobsPage(
        total_count=parsed.total_count,
        jobs=parsed.jobs,
        links=MappingProxyType(dict(links or {})),
    )


def decode_run(
    body: bytes | str | Mapping[str, Any], *, converter: cattrs.Converter | None = None
) -> WorkflowRun:
    """Decode one workflow run from a JSON body (bytes/str) or an already parsed mapping."""
    return _decode(body, WorkflowRun, converter)


def decode_runs_page(
    body: bytes | str | Mapping[str, Any], *, converter: cattrs.Converter | None = None
) -> RunsPage:
    """Decode a runs-listing body (``total_count``, ``workflow_runs``)."""
    parsed = _structure(_loads(body), _RunsPageBody, converter)
    return RunsPage(total_count=parsed.total_count, runs=parsed.workflow_runs)


# --------------------------------------------------------------------------- log harvesting


class LogStatus(enum.StrEnum):
    """What happened to one job's log in a harvest."""

    DOWNLOADED = "downloaded"  # fetched, verified and renamed into place
    SKIPPED = "skipped"  # already complete and intact on disk: no blob request
    NOT_AVAILABLE = "not_available"  # 404: queued, running, or never ran
    GONE = "gone"  # 410: expired or deleted
    FAILED = "failed"  # anything else, after the retries


@attrs.frozen
class LogLocation:
    """Where a job's log can be downloaded, and when that was learnt.

    ``url`` is a signed, short-lived URL (about a minute) on another host; it
    is a secret, so the repr shows only its origin. ``inline`` is true when the
    API answered 200 with the log itself instead of redirecting: ``url`` is then
    the API's own logs URL.
    """

    url: str = attrs.field(repr=False)
    resolved_at: datetime
    inline: bool = False

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of :attr:`url`."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"

    def __repr__(self) -> str:
        return (
            f"LogLocation(origin={self.origin!r}, resolved_at={self.resolved_at!r}, "
            f"inline={self.inline!r})"
        )


@attrs.frozen(eq=False)
class LogResult:
    """The outcome for one job: ``status`` and, when downloaded or skipped, the file's facts."""

    job_id: int
    status: LogStatus
    path: Path | None = None
    size: int | None = None
    sha256: str | None = None
    error: Exception | None = None
    attempts: int = 0
    #: ``not_available`` because the job never ran (skipped, or cancelled before a runner
    #: took it): it has no log by nature, and none was asked for
    never_ran: bool = False

    @property
    def ok(self) -> bool:
        """Whether the log is on disk (downloaded now or skipped as already complete)."""
        return self.status in {LogStatus.DOWNLOADED, LogStatus.SKIPPED}


@attrs.frozen
class LogEvent:
    """A progress event of a harvest, for progress bars.

    ``kind`` is ``"queued"`` (a job entered the harvest), ``"started"`` (its
    download began), ``"bytes"`` (``nbytes`` more arrived), ``"retry"`` (the
    download is retried with a fresh Location) or ``"finished"`` (``result`` is
    set).
    """

    kind: str
    job_id: int
    nbytes: int = 0
    result: LogResult | None = None


@attrs.frozen
class HarvestSummary:
    """What a harvest did: how many logs per status, bytes written, seconds, failures."""

    counts: Mapping[LogStatus, int]
    bytes: int
    elapsed: float
    failures: tuple[LogResult, ...]

    @property
    def total(self) -> int:
        """Jobs handled."""
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """True when no job ``failed`` (not available and gone are outcomes, not errors)."""
        return not self.failures
