"""gh_jobs_async: GitHub Actions job data and job logs, at scale, from asyncio.

>>> async with Client(token) as gh:            # doctest: +SKIP
...     job = await gh.get_job("octo-org", "hello-world", 399444496)
"""

import logging

from ._appauth import AppAuth, InstallationAuth
from ._auth import Auth, ProvidedToken, ProviderAuth, TokenAuth
from ._client import Client
from ._created import CreatedRange
from ._harvest import LogBatch
from ._limits import LimitStore
from ._logread import LogReader
from ._logsteps import StepLog, split_steps
from ._logtext import LogLine, strip_ansi
from ._paginate import JobStream
from ._runs import RunStream
from ._selection import JobSelection
from ._sharedtoken import SharedToken, TokenStore
from ._version import __version__
from .exceptions import (
    ApiError,
    ClientClosedError,
    DecodeError,
    ForbiddenError,
    GhJobsError,
    GoneError,
    IncompleteLogError,
    InvalidArgumentError,
    LogChangedError,
    LogDownloadError,
    LogsGoneError,
    LogsNotAvailableError,
    LogUrlExpiredError,
    NotFoundError,
    PrimaryRateLimitError,
    RateLimitError,
    RateLimitStoreError,
    RequestTimeoutError,
    RunsCapError,
    SecondaryRateLimitError,
    ServerError,
    TLSError,
    TransportError,
    UnauthorizedError,
    UnsafeURLError,
    ValidationFailedError,
)
from .models import (
    CacheStats,
    Change,
    CommitPerson,
    HarvestSummary,
    Job,
    JobConclusion,
    JobsPage,
    JobStatus,
    JobUpdate,
    LogEvent,
    LogLocation,
    LogResult,
    LogStatus,
    PullRequestRef,
    PullRequestRepo,
    RateLimit,
    ReferencedWorkflow,
    RunCommit,
    RunConclusion,
    RunPullRequest,
    RunRepository,
    RunStatus,
    RunUser,
    Step,
    StepStatus,
    WorkflowRun,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "AppAuth",
    "Auth",
    "CacheStats",
    "Change",
    "Client",
    "ClientClosedError",
    "CommitPerson",
    "CreatedRange",
    "DecodeError",
    "ForbiddenError",
    "GhJobsError",
    "GoneError",
    "HarvestSummary",
    "IncompleteLogError",
    "InstallationAuth",
    "InvalidArgumentError",
    "Job",
    "JobConclusion",
    "JobSelection",
    "JobStatus",
    "JobStream",
    "JobUpdate",
    "JobsPage",
    "LimitStore",
    "LogBatch",
    "LogChangedError",
    "LogDownloadError",
    "LogEvent",
    "LogLine",
    "LogLocation",
    "LogReader",
    "LogResult",
    "LogStatus",
    "LogUrlExpiredError",
    "LogsGoneError",
    "LogsNotAvailableError",
    "NotFoundError",
    "PrimaryRateLimitError",
    "ProvidedToken",
    "ProviderAuth",
    "PullRequestRef",
    "PullRequestRepo",
    "RateLimit",
    "RateLimitError",
    "RateLimitStoreError",
    "ReferencedWorkflow",
    "RequestTimeoutError",
    "RunCommit",
    "RunConclusion",
    "RunPullRequest",
    "RunRepository",
    "RunStatus",
    "RunStream",
    "RunUser",
    "RunsCapError",
    "SecondaryRateLimitError",
    "ServerError",
    "SharedToken",
    "Step",
    "StepLog",
    "StepStatus",
    "TLSError",
    "TokenAuth",
    "TokenStore",
    "TransportError",
    "UnauthorizedError",
    "UnsafeURLError",
    "ValidationFailedError",
    "WorkflowRun",
    "split_steps",
    "strip_ansi",
    "__version__",
]
