"""gh_jobs_async: GitHub Actions job data and job logs, at scale, from asyncio.

>>> async with Client(token) as gh:            # doctest: +SKIP
...     job = await gh.get_job("octo-org", "hello-world", 399444496)
"""

import logging

from ._client import Client
from ._created import CreatedRange
from ._harvest import LogBatch
from ._paginate import JobStream
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
    LogDownloadError,
    LogsGoneError,
    LogsNotAvailableError,
    LogUrlExpiredError,
    NotFoundError,
    PrimaryRateLimitError,
    RateLimitError,
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
    HarvestSummary,
    Job,
    JobConclusion,
    JobsPage,
    JobStatus,
    LogEvent,
    LogLocation,
    LogResult,
    LogStatus,
    RateLimit,
    Step,
    StepStatus,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "Client",
    "ClientClosedError",
    "CreatedRange",
    "DecodeError",
    "ForbiddenError",
    "GhJobsError",
    "GoneError",
    "HarvestSummary",
    "IncompleteLogError",
    "InvalidArgumentError",
    "Job",
    "JobConclusion",
    "JobStatus",
    "JobStream",
    "JobsPage",
    "LogBatch",
    "LogDownloadError",
    "LogEvent",
    "LogLocation",
    "LogResult",
    "LogStatus",
    "LogUrlExpiredError",
    "LogsGoneError",
    "LogsNotAvailableError",
    "NotFoundError",
    "PrimaryRateLimitError",
    "RateLimit",
    "RateLimitError",
    "RequestTimeoutError",
    "RunsCapError",
    "SecondaryRateLimitError",
    "ServerError",
    "Step",
    "StepStatus",
    "TLSError",
    "TransportError",
    "UnauthorizedError",
    "UnsafeURLError",
    "ValidationFailedError",
    "__version__",
]
