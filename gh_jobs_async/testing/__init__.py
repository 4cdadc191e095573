"""A fake GitHub for the workflow-jobs endpoints, with a separate blob host for job logs.

An independent oracle for `gh_jobs_async` and its users: it imports only aiohttp and the
standard library, never the client. Start one with::

    async with FakeGitHub(max_in_flight=100) as fake:
        run = fake.add_run("octo-org", "hello-world", jobs=120, attempts=2)
        ...  # point a client at fake.api_url with fake.token
        assert fake.stats.secondary_violations == 0

or from a shell with ``python -m gh_jobs_async.testing --help``.
"""

from gh_jobs_async.testing._cli import main, serve_forever
from gh_jobs_async.testing._config import DEFAULT_TOKEN, FakeConfig, FakeStats, RequestRecord
from gh_jobs_async.testing._data import FIRST_JOB_ID, FIRST_RUN_ID, FakeRun, LogState
from gh_jobs_async.testing._faults import Fault, FaultKind, FaultTarget
from gh_jobs_async.testing._server import FakeGitHub

__all__ = [
    "DEFAULT_TOKEN",
    "FIRST_JOB_ID",
    "FIRST_RUN_ID",
    "FakeConfig",
    "FakeGitHub",
    "FakeRun",
    "FakeStats",
    "Fault",
    "FaultKind",
    "FaultTarget",
    "LogState",
    "RequestRecord",
    "main",
    "serve_forever",
]
