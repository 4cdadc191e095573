"""Building workflow-run dicts (GitHub's ``workflow-run`` schema) from a run's jobs.

Pure functions of their arguments. A run's ``status``, ``conclusion`` and ``updated_at``
are derived from the jobs of the attempt being shown, at the moment it is served, so a
run whose jobs change (`FakeGitHub.update_job`, live runs) is reported as GitHub would:

* ``completed`` once every job is completed (a run without jobs is completed at once);
  its conclusion is ``failure`` when a job failed or timed out, else ``cancelled`` when
  one was cancelled, else ``success``;
* ``in_progress`` while some job runs or some have completed and others have not;
* otherwise the status every job shares (``queued``, ``waiting``, ...), or ``queued``.

A run made with a conclusion of its own (`RunMeta.conclusion`: ``startup_failure``,
``timed_out``, ``skipped``, ``action_required``...) shows that one once completed instead.

Every property of the schema is present, nested objects (``actor``, ``repository``,
``head_commit``...) with every property their schemas require. A ``pull_request`` run
lists its pull request (``pull-request-minimal``) three times in four, chosen by the seed
and the run id; the others, and runs of other events, list none.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["RunMeta", "build_run", "run_basics", "run_status"]

JSONDict = dict[str, Any]
_EPOCH = datetime(2020, 1, 20, 17, 42, 40, tzinfo=UTC)
_FAILED = ("failure", "timed_out")

# minimal-repository: the URL properties its schema requires, as GitHub spells them.
_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


@dataclass(frozen=True)
class RunMeta:
    """What a run's attempts share: where it lives and what started it."""

    api_url: str
    html_origin: str
    owner: str
    repo: str
    run_id: int
    run_number: int
    workflow_name: str | None
    workflow_id: int
    workflow_path: str
    event: str
    head_branch: str | None
    actor: str
    seed: int
    created_at: datetime | None = None  # attempt 1's creation; None: derived from the seed
    fork_deleted: bool = False  # head_repository null (github/rest-api-description#1586)
    conclusion: str | None = None  # once completed, whatever its jobs say


def run_basics(seed: int, run_id: int) -> tuple[str, datetime]:
    """(head SHA, creation time of attempt 1) of a run: shared with the job generator."""
    rng = random.Random(f"gh-jobs-fake:{seed}:run:{run_id}")
    head_sha = f"{rng.getrandbits(160):040x}"
    return head_sha, _EPOCH + timedelta(seconds=rng.randrange(2 * 365 * 86400))


def run_status(jobs: list[JSONDict]) -> tuple[str, str | None]:
    """(status, conclusion) of an attempt whose jobs are ``jobs`` (see the module doc)."""
    statuses = {job["status"] for job in jobs}
    if statuses <= {"completed"}:
        conclusions = {job["conclusion"] for job in jobs}
        if conclusions & set(_FAILED):
            return "completed", "failure"
        if "cancelled" in conclusions:
            return "completed", "cancelled"
        return "completed", "success"
    if "in_progress" in statuses or "completed" in statuses:
        return "in_progress", None
    return (statuses.pop() if len(statuses) == 1 else "queued"), None


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(prefix: str, number: int) -> str:
    return prefix + base64.urlsafe_b64encode(number.to_bytes(8, "big")).decode().rstrip("=")


def _user(meta: RunMeta, login: str) -> JSONDict:
    user_id = random.Random(f"gh-jobs-fake:user:{login}").randrange(1, 10**8)
    api = f"{meta.api_url}/users/{login}"
    return {
        "name": None,
        "email": None,
        "login": login,
        "id": user_id,
        "node_id": _node_id("U_kgDO", user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{meta.html_origin}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "User",
        "site_admin": False,
        "starred_at": "2020-07-09T00:17:55Z",
        "user_view_type": "public",
    }


def _repository(meta: RunMeta) -> JSONDict:
    repo_id = random.Random(f"gh-jobs-fake:repo:{meta.owner}/{meta.repo}").randrange(1, 10**9)
    api = f"{meta.api_url}/repos/{meta.owner}/{meta.repo}"
    repo: JSONDict = {
        "id": repo_id,
        "node_id": _node_id("R_kgDO", repo_id),
        "name": meta.repo,
        "full_name": f"{meta.owner}/{meta.repo}",
        "owner": _user(meta, meta.owner),
        "private": False,
        "html_url": f"{meta.html_origin}/{meta.owner}/{meta.repo}",
        "description": "A repository of the fake GitHub",
        "fork": False,
        "url": api,
    }
    repo.update({name: api + suffix for name, suffix in _REPO_URLS.items()})
    return repo


def _commit(meta: RunMeta, head_sha: str, created: datetime) -> JSONDict:
    person = {"name": meta.actor, "email": f"{meta.actor}@users.noreply.github.com"}
    return {
        "id": head_sha,
        "tree_id": f"{int(head_sha, 16) ^ 0xFFFF:040x}",
        "message": f"Change {head_sha[:7]}",
        "timestamp": _ts(created - timedelta(seconds=5)),
        "author": dict(person),
        "committer": dict(person),
    }


def _pull_requests(meta: RunMeta, head_sha: str, repo_id: int) -> list[JSONDict]:
    """The run's ``pull_requests``: its pull request for three ``pull_request`` runs in four."""
    rng = random.Random(f"gh-jobs-fake:{meta.seed}:pull:{meta.run_id}")
    if meta.event != "pull_request" or rng.randrange(4) == 0:
        return []
    number = rng.randrange(1, 10_000)
    api = f"{meta.api_url}/repos/{meta.owner}/{meta.repo}"
    repo = {"id": repo_id, "url": api, "name": meta.repo}
    head_ref = meta.head_branch or f"patch-{number}"
    return [
        {
            "id": rng.randrange(10**9, 10**10),
            "number": number,
            "url": f"{api}/pulls/{number}",
            "head": {"ref": head_ref, "sha": head_sha, "repo": dict(repo)},
            "base": {
                "ref": "dev" if head_ref == "main" else "main",
                "sha": f"{rng.getrandbits(160):040x}",
                "repo": dict(repo),
            },
        }
    ]


def build_run(meta: RunMeta, jobs: list[JSONDict], attempt: int) -> JSONDict:
    """The run dict of attempt ``attempt``, whose jobs are ``jobs``."""
    head_sha, first_created = run_basics(meta.seed, meta.run_id)
    if meta.created_at is not None:
        first_created = meta.created_at
    created = first_created + timedelta(hours=3 * (attempt - 1))
    status, conclusion = run_status(jobs)
    if status == "completed" and meta.conclusion is not None:
        conclusion = meta.conclusion
    updated = max(
        [created]
        + [
            datetime.fromisoformat(stamp)
            for job in jobs
            for stamp in (job.get("completed_at"), job.get("started_at"))
            if stamp
        ]
    )
    api = f"{meta.api_url}/repos/{meta.owner}/{meta.repo}"
    run_api = f"{api}/actions/runs/{meta.run_id}"
    check_suite_id = meta.run_id + 10**10
    repository = _repository(meta)
    title = meta.workflow_name or meta.workflow_path.rsplit("/", 1)[-1]
    return {
        "id": meta.run_id,
        "name": meta.workflow_name,
        "node_id": _node_id("WFR_kwLO", meta.run_id),
        "check_suite_id": check_suite_id,
        "check_suite_node_id": _node_id("CS_kwDO", check_suite_id),
        "head_branch": meta.head_branch,
        "head_sha": head_sha,
        "path": meta.workflow_path,
        "run_number": meta.run_number,
        "run_attempt": attempt,
        "referenced_workflows": [],
        "event": meta.event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": meta.workflow_id,
        "url": run_api,
        "html_url": f"{meta.html_origin}/{meta.owner}/{meta.repo}/actions/runs/{meta.run_id}",
        "pull_requests": _pull_requests(meta, head_sha, repository["id"]),
        "created_at": _ts(first_created),
        "updated_at": _ts(updated),
        "actor": _user(meta, meta.actor),
        "triggering_actor": _user(meta, meta.actor),
        "run_started_at": _ts(created),
        "jobs_url": f"{run_api}/jobs",
        "logs_url": f"{run_api}/logs",
        "check_suite_url": f"{api}/check-suites/{check_suite_id}",
        "artifacts_url": f"{run_api}/artifacts",
        "cancel_url": f"{run_api}/cancel",
        "rerun_url": f"{run_api}/rerun",
        "previous_attempt_url": f"{run_api}/attempts/{attempt - 1}" if attempt > 1 else None,
        "workflow_url": f"{api}/actions/workflows/{meta.workflow_id}",
        "head_commit": _commit(meta, head_sha, first_created),
        "repository": repository,
        # GitHub serves null for a run whose head repository (a fork) has been deleted,
        # though the schema does not say so (github/rest-api-description#1586).
        "head_repository": None if meta.fork_deleted else repository,
        "head_repository_id": repository["id"],
        "display_title": f"{title} #{meta.run_number}",
    }
