"""GitHub App installations and providers against the fake GitHub, over loopback.

Real RS256 keys (the fake generates its App's pair; it checks JWTs with ``cryptography``
itself), real token lifetimes of seconds, replication lag and clock offsets. Every test
ends by checking that no secret (the key, a JWT, a token) reached a log line at DEBUG, a
repr or an exception text.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _support import file_sha256

from gh_jobs_async import (
    AppAuth,
    Client,
    LogStatus,
    ProvidedToken,
    ProviderAuth,
    UnauthorizedError,
)
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"


class Leaks:
    """Collects what could show a secret: DEBUG logs, reprs and exception texts."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.shown: list[str] = []

    def see(self, *objects: object) -> None:
        """Remember the repr (and, for exceptions, the text and context) of ``objects``."""
        for obj in objects:
            self.shown.append(repr(obj))
            if isinstance(obj, BaseException):
                self.shown.append(str(obj))
                self.shown.append(repr(obj.__context__) + repr(obj.__cause__))

    def check(self, fake: FakeGitHub, *extra_secrets: str) -> None:
        """No App secret of ``fake`` (nor ``extra_secrets``) in anything seen or logged."""
        text = "\n".join(
            [*self.shown, *(r.getMessage() for r in self.caplog.records), self.caplog.text]
        )
        assert self.caplog.records, "nothing was logged: the check would prove nothing"
        secrets = [*fake.app_secrets(), *extra_secrets]
        key_lines = [line for line in fake.app_private_key_pem.splitlines() if "-----" not in line]
        for secret in [*secrets[1:], *key_lines]:
            assert secret not in text
        assert "eyJ" not in text  # no JWT, nor a piece of one
        assert fake.stats.app_secret_leaks == 0


@pytest.fixture(name="leaks")
def fixture_leaks(caplog: pytest.LogCaptureFixture) -> Iterator[Leaks]:
    """DEBUG logs of the library captured for the leak check."""
    caplog.set_level(logging.DEBUG, logger="gh_jobs_async")
    return Leaks(caplog)


def app_of(fake: FakeGitHub, *, client_id: bool = True) -> AppAuth:
    """The fake's App, by client ID (or app ID)."""
    return AppAuth(fake.client_id if client_id else fake.app_id, fake.app_private_key_pem)


async def test_a_harvest_spanning_many_token_lifetimes(tmp_path: Path, leaks: Leaks) -> None:
    """300 logs over 10 s or more with 2 s tokens: every log byte-exact, no 401 reaches the
    caller, and mints stay within duration / (lifetime - margin) + 2."""
    async with FakeGitHub(app_token_lifetime=2.0, api_latency=0.1) as fake:
        run = fake.add_run(OWNER, REPO, jobs=300, log_size=1024)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO, permissions={"actions": "read"})
        started = time.monotonic()
        async with Client(auth=inst, base_url=fake.api_url, max_concurrency=3) as gh:
            summary = await gh.harvest(OWNER, REPO, run.run_id, tmp_path)
            key = gh.budget_key
        duration = time.monotonic() - started
        leaks.see(gh, inst, inst.app, summary)
        stats = fake.stats
    assert duration >= 10.0
    assert summary.counts[LogStatus.DOWNLOADED] == 300, summary
    assert not summary.failures  # no UnauthorizedError (nor anything else) reached us
    for job in run.latest:
        assert file_sha256(tmp_path / f"{job['id']}.log") == fake.log_sha256(job["id"])
    assert stats.app_mints <= duration / (2.0 - 0.5) + 2
    assert stats.app_mints >= duration / 3.0 - 1  # it did renew, again and again
    assert stats.app_lookups == 1
    assert inst.installation_id is not None
    assert key == f"installation:{fake.api_url}:{inst.installation_id}"  # found from the repo
    assert len(stats.requests_per_token) == stats.app_mints
    leaks.check(fake)


async def test_concurrent_requests_crossing_an_expiry_mint_once(leaks: Leaks) -> None:
    """100 concurrent requests that find the token due cause exactly one mint."""
    async with FakeGitHub(app_token_lifetime=2.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        installation = fake.add_installation(OWNER)
        inst = app_of(fake).installation(installation)
        job_id = run.latest[0]["id"]
        async with Client(auth=inst, base_url=fake.api_url, max_concurrency=100) as gh:
            await gh.get_job(OWNER, REPO, job_id)
            assert fake.stats.app_mints == 1
            assert inst.renews_at is not None
            await asyncio.sleep(max(0.0, inst.renews_at - time.time()) + 0.05)
            jobs = await asyncio.gather(*(gh.get_job(OWNER, REPO, job_id) for _ in range(100)))
        leaks.see(gh, inst)
        assert len(jobs) == 100
        assert fake.stats.app_mints == 2
        assert sum(fake.stats.app_unauthorized.values()) == 0
        leaks.check(fake)


async def test_replication_lag_never_reaches_the_caller(leaks: Leaks) -> None:
    """Fresh tokens refused for their first second: every request still succeeds."""
    async with FakeGitHub(app_replication_lag=1.0, app_token_lifetime=3.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=20)
        fake.add_installation(OWNER)
        inst = app_of(fake, client_id=False).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            for _ in range(2):  # the second round crosses a renewal
                jobs = await gh.list_jobs(OWNER, REPO, run.run_id).collect()
                await asyncio.gather(*(gh.get_job(OWNER, REPO, j.id) for j in jobs))
                await asyncio.sleep(2.5)
        leaks.see(gh, inst)
        stats = fake.stats
    assert stats.app_unauthorized["replication_lag"] >= 1  # the lag was real
    assert stats.app_mints <= 3
    leaks.check(fake)


async def test_a_scoped_token_waits_out_the_unreplicated_403(leaks: Leaks) -> None:
    """A token narrowed to permissions gets 403 "not replicated yet" at first: retried."""
    async with FakeGitHub(app_replication_lag=0.6) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO, permissions={"actions": "read"})
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            job = await gh.get_job(OWNER, REPO, run.latest[0]["id"])
        leaks.see(gh, job)
        assert fake.stats.app_unauthorized["not_replicated_403"] >= 1
        leaks.check(fake)


@pytest.mark.parametrize("offset", [300.0, -300.0])
async def test_a_skewed_github_clock(
    offset: float, leaks: Leaks, caplog: pytest.LogCaptureFixture
) -> None:
    """GitHub's clock 5 minutes ahead or behind: minting succeeds after at most one refused
    JWT, the offset is logged as a WARNING, and tokens renew on GitHub's time."""
    async with FakeGitHub(app_clock_offset=offset, app_token_lifetime=2.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        app = app_of(fake)
        inst = app.installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            for _ in range(3):
                await gh.get_job(OWNER, REPO, run.latest[0]["id"])
                await asyncio.sleep(1.0)
        leaks.see(gh, app, inst)
        stats = fake.stats
    assert sum(stats.jwt_refusals.values()) <= 1
    assert stats.jwt_refusals["iat"] == (1 if offset < 0 else 0)
    assert app.clock_offset == pytest.approx(offset, abs=2.0)
    assert stats.app_unauthorized["expired"] == 0  # renewed before GitHub's expiry
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    shown = [float(m) for w in warnings for m in re.findall(r"([+-]\d+\.\d) s", w)]
    assert any(abs(value - offset) < 2.0 for value in shown), warnings
    leaks.check(fake)


async def test_a_deleted_installation_is_a_clear_error_not_a_loop(leaks: Leaks) -> None:
    """After uninstalling: UnauthorizedError naming the installation after a bounded number
    of requests, and later requests send nothing."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=3)
        installation = fake.add_installation(OWNER)
        inst = app_of(fake).installation(installation)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            fake.delete_installation(installation)
            before = fake.stats.api_requests
            with pytest.raises(UnauthorizedError) as info:
                await gh.get_job(OWNER, REPO, run.latest[1]["id"])
            spent = fake.stats.api_requests - before
            with pytest.raises(UnauthorizedError) as again:
                await gh.get_job(OWNER, REPO, run.latest[2]["id"])
            assert fake.stats.api_requests - before == spent
        leaks.see(gh, inst, info.value, again.value)
    assert f"installation {installation}" in str(info.value)
    # the token was minted moments ago, so its 401s count as replication lag for up to 5 s
    # (about 6 retries), then one renewal: the mint's 404 ends it
    assert 2 <= spent <= 10
    assert fake.stats.app_unauthorized["revoked"] == spent - 1
    leaks.check(fake)


async def test_an_unknown_installation_from_owner_repo(leaks: Leaks) -> None:
    """No installation on the repository: UnauthorizedError after one lookup."""
    async with FakeGitHub() as fake:
        fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation("someone-else")
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            with pytest.raises(UnauthorizedError, match=f"{OWNER}/{REPO}") as info:
                await gh.get_job(OWNER, REPO, 1)
        leaks.see(info.value)
        assert fake.stats.app_lookups == 1
        leaks.check(fake)


async def test_a_wrong_key_is_refused_and_not_retried(leaks: Leaks) -> None:
    """A JWT signed by another key: UnauthorizedError, no re-signing loop."""
    async with FakeGitHub() as fake, FakeGitHub() as other:
        fake.add_run(OWNER, REPO, jobs=1)
        installation = fake.add_installation(OWNER)
        inst = AppAuth(fake.app_id, other.app_private_key_pem).installation(installation)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            with pytest.raises(UnauthorizedError, match="could not be decoded") as info:
                await gh.get_job(OWNER, REPO, 1)
        leaks.see(info.value, gh)
        assert fake.stats.jwt_refusals["signature"] == 1
        leaks.check(fake, *other.app_secrets())


async def test_a_suspended_installation_raises_at_once(leaks: Leaks) -> None:
    """403 suspended on the mint: UnauthorizedError, one mint attempt only."""
    async with FakeGitHub() as fake:
        installation = fake.add_installation(OWNER)
        fake.suspend_installation(installation)
        inst = app_of(fake).installation(installation)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            for _ in range(3):
                with pytest.raises(UnauthorizedError, match="suspended") as info:
                    await gh.get_job(OWNER, REPO, 1)
        leaks.see(info.value)
        assert fake.stats.app_mint_refusals["suspended"] == 1
        leaks.check(fake)


async def test_mints_go_through_the_limiter(leaks: Leaks) -> None:
    """With one request in flight allowed, mints and lookups never overlap another request,
    and the client counts them among its requests."""
    async with FakeGitHub(app_token_lifetime=1.0, api_latency=0.05) as fake:
        run = fake.add_run(OWNER, REPO, jobs=10)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url, max_concurrency=1) as gh:
            for job in run.latest:
                await asyncio.gather(*(gh.get_job(OWNER, REPO, job["id"]) for _ in range(3)))
            sent = gh.requests_sent
        leaks.see(gh)
        assert fake.stats.peak_api_in_flight == 1
        assert fake.stats.app_mints >= 2
        assert sent == fake.stats.api_requests
        leaks.check(fake)


async def test_the_jwt_goes_only_to_app_endpoints(leaks: Leaks) -> None:
    """Every request carrying the JWT was for /app or an installation lookup."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=5)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            await gh.list_jobs(OWNER, REPO, run.run_id).collect()
        leaks.see(gh)
        assert fake.stats.jwt_refusals["wrong_endpoint"] == 0
        assert fake.stats.app_unauthorized["not_a_jwt"] == 0
        paths = [r.path_qs for r in fake.stats.requests_log]
        assert paths[:2] == [
            f"/repos/{OWNER}/{REPO}/installation",
            f"/app/installations/{inst.installation_id}/access_tokens",
        ]
        leaks.check(fake)


async def test_the_budget_and_the_pause_survive_a_renewal(leaks: Leaks) -> None:
    """A renewal keeps the client's limiter and budget key: state follows the identity."""
    async with FakeGitHub(app_token_lifetime=1.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            key, budget, first_id = gh.budget_key, gh._session.budget, gh._session.credential_id()
            assert inst.renews_at is not None
            await asyncio.sleep(max(0.0, inst.renews_at - time.time()) + 0.05)
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            assert gh.budget_key == key
            assert gh._session.budget is budget
            assert gh._session.credential_id() != first_id
            assert gh.rate_limit is not None
            assert gh.rate_limit.used == 2  # the installation's own budget, across tokens
        leaks.see(gh)
        assert fake.stats.app_mints == 2
        leaks.check(fake)


async def test_a_provider_whose_second_token_is_refused(leaks: Leaks) -> None:
    """The provider's first token works until it expires; its next one gets 401: it is
    asked again once, then UnauthorizedError reaches the caller."""
    calls: list[str] = []
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)

        async def provide() -> ProvidedToken:
            token = fake.token if not calls else f"ghs_revoked{len(calls)}"
            calls.append(token)
            return ProvidedToken(token, datetime.fromtimestamp(time.time() + 2.0, UTC))

        auth = ProviderAuth(provide)
        async with Client(auth=auth, base_url=fake.api_url) as gh:
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            await asyncio.sleep(1.6)
            before = fake.stats.api_requests
            with pytest.raises(UnauthorizedError) as info:
                await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            spent = fake.stats.api_requests - before
        leaks.see(gh, auth, info.value)
    assert len(calls) == 3
    assert spent == 2
    text = "\n".join([*leaks.shown, leaks.caplog.text])
    for token in calls:
        assert token not in text


async def test_installation_budgets_are_separate_at_the_fake(leaks: Leaks) -> None:
    """Each installation spends its own primary budget, not the static token's."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(fake.token, base_url=fake.api_url) as plain:
            for _ in range(3):
                await plain.get_job(OWNER, REPO, run.latest[0]["id"])
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            await gh.get_job(OWNER, REPO, run.latest[0]["id"])
            assert gh.rate_limit is not None
            assert gh.rate_limit.used == 1
        leaks.see(gh, plain)
        assert fake.stats.requests_per_installation[inst.installation_id or 0] == 1
        leaks.check(fake)


async def test_answers_carry_a_hash_of_the_credential_sent(leaks: Leaks) -> None:
    """Each answer names the credential it was sent with by hash (for cache keys), the
    same as the session's current one, and never the token itself."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        fake.add_installation(OWNER)
        inst = app_of(fake).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            session = gh._session
            url = session.api.build("repos", OWNER, REPO, "actions", "jobs", run.latest[0]["id"])
            answer = await session.request(url)
            app_answer = await session.request(session.api.build("app"), auth=inst.app)
        leaks.see(gh, answer, app_answer)
        assert answer.credential_id is not None
        assert answer.credential_id == session.credential_id()
        assert app_answer.credential_id not in (None, answer.credential_id)
        assert fake.stats.app_mints == 1
        leaks.check(fake)


async def test_an_app_on_github_enterprise_server(leaks: Leaks) -> None:
    """Under ``/api/v3`` the lookup, the mint and the JWT path check all work, by app ID."""
    async with FakeGitHub(ghes=True) as fake:
        run = fake.add_run(OWNER, REPO, jobs=2)
        fake.add_installation(OWNER)
        inst = app_of(fake, client_id=False).installation(owner=OWNER, repo=REPO)
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            jobs = await gh.list_jobs(OWNER, REPO, run.run_id).collect()
        leaks.see(gh, inst)
        assert len(jobs) == 2
        assert fake.stats.app_mints == 1
        assert sum(fake.stats.jwt_refusals.values()) == 0
        leaks.check(fake)


async def test_a_token_that_falls_due_while_waiting_for_a_slot_is_renewed_first(
    leaks: Leaks,
) -> None:
    """A spent primary budget holds a request past its token's expiry: the token it was
    given before the wait is not sent; a fresh one is (no 401 at the fake, one more mint)."""
    async with FakeGitHub(app_token_lifetime=2.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        installation = fake.add_installation(OWNER)
        inst = app_of(fake).installation(installation)
        job_id = run.latest[0]["id"]
        async with Client(auth=inst, base_url=fake.api_url) as gh:
            fake.exhaust_primary(3.0, remaining=1, installation=installation)
            await gh.get_job(OWNER, REPO, job_id)  # mint; its answer says 0 left until reset
            assert gh.rate_limit is not None
            assert gh.rate_limit.remaining == 0
            assert fake.stats.app_mints == 1
            started = time.monotonic()
            job = await gh.get_job(OWNER, REPO, job_id)  # waits out the reset (~3 s > 2 s)
            waited = time.monotonic() - started
            # the slot given back unsent is not in the per-minute window: two mints and two
            # get_job, each counted once
            pacer = gh._session.budget.pacer  # type: ignore[attr-defined]
            assert pacer.used() == gh._session.requests_sent == 4
        leaks.see(gh, inst)
        assert job.id == job_id
        assert waited >= 2.0  # the token obtained before the wait had expired by its end
        assert fake.stats.app_unauthorized["expired"] == 0
        assert sum(fake.stats.app_unauthorized.values()) == 0
        assert fake.stats.app_mints == 2
        assert fake.stats.primary_violations == 0
        leaks.check(fake)


async def test_the_apps_spent_budget_does_not_hold_back_the_installation(leaks: Leaks) -> None:
    """The App's own primary budget (its JWT: lookups and mints) spent when a renewal is
    due: the mint fails, the still-valid token stays in use, and the installation's
    budget is not held back until the App's reset."""
    async with FakeGitHub(app_token_lifetime=4.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        installation = fake.add_installation(OWNER)
        inst = app_of(fake).installation(installation)
        job_id = run.latest[0]["id"]
        async with Client(auth=inst, base_url=fake.api_url, max_rate_limit_wait=5) as gh:
            await gh.get_job(OWNER, REPO, job_id)
            first = gh._session.credential_id()
            fake.exhaust_primary(60.0, app=True)
            assert inst.renews_at is not None
            await asyncio.sleep(max(0.0, inst.renews_at - time.time()) + 0.05)
            await gh.get_job(OWNER, REPO, job_id)  # the mint is refused; the token still works
            assert gh._session.credential_id() == first
            assert gh.paused_for == 0.0
            await gh.get_job(OWNER, REPO, job_id)
        leaks.see(gh, inst)
        assert fake.stats.app_mints == 1
        assert sum(fake.stats.app_unauthorized.values()) == 0
        leaks.check(fake)
