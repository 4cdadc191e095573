"""gh_jobs_async: GitHub Actions job data and job logs, at scale, from asyncio.

>>> async with Client(token) as gh:            # doctest: +SKIP
...     job = await gh.get_job("octo-org", "hello-world", 399444496)
"""

import logging

from ._client import Client
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
    SecondaryRateLimitError,
    ServerError,
    TransportError,
    UnauthorizedError,
    UnsafeURLError,
    ValidationFailedError,
)
from .models import Job, JobConclusion, JobsPage, JobStatus, RateLimit, Step, StepStatus

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "Client",
    "ClientClosedError",
    "DecodeError",
    "ForbiddenError",
    "GhJobsError",
    "GoneError",
    "IncompleteLogError",
    "InvalidArgumentError",
    "Job",
    "JobConclusion",
    "JobStatus",
    "JobsPage",
    "LogDownloadError",
    "LogUrlExpiredError",
    "LogsGoneError",
    "LogsNotAvailableError",
    "NotFoundError",
    "PrimaryRateLimitError",
    "RateLimit",
    "RateLimitError",
    "RequestTimeoutError",
    "SecondaryRateLimitError",
    "ServerError",
    "Step",
    "StepStatus",
    "TransportError",
    "UnauthorizedError",
    "UnsafeURLError",
    "ValidationFailedError",
    "__version__",
]
