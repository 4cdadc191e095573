"""The fake GitHub's App: JWT checks, installations, lookup, mint, token lifetime, lag,
clock offset, per-installation budgets and counters, with a plain aiohttp caller.

JWTs are signed here with PyJWT, independently of the client's own signing code.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import gh_jobs_async.testing
from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
Call = Callable[..., Awaitable[Any]]  # the `call` fixture (see conftest.py)


def sign(
    fake: FakeGitHub, *, iat: float | None = None, exp: float | None = None, **claims: Any
) -> str:
    """A JWT for the fake's App; ``iat``/``exp`` default to GitHub's advice on host time."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iat": int(now - 60 if iat is None else iat),
        "exp": int(now + 540 if exp is None else exp),
        "iss": str(fake.app_id),
    }
    body.update(claims)
    key = load_pem_private_key(fake.app_private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return jwt.encode(body, key, algorithm="RS256")


async def mint(call: Call, fake: FakeGitHub, installation: int, **kwargs: Any) -> str:
    """A fresh installation token."""
    reply = await call(
        fake,
        f"/app/installations/{installation}/access_tokens",
        method="POST",
        token=sign(fake),
        **kwargs,
    )
    assert reply.status == 201, reply.body
    token: str = reply.json()["token"]
    return token


def test_the_app_never_imports_the_client() -> None:
    """``testing/_app.py`` imports aiohttp, cryptography, the stdlib and testing only."""
    source = Path(gh_jobs_async.testing.__file__).with_name("_app.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gh_"):
            assert node.module.startswith("gh_jobs_async.testing"), node.module


async def test_get_app_with_the_app_id_or_the_client_id(fake: FakeGitHub, call: Call) -> None:
    """``GET /app`` answers the App for a JWT issued by its app ID or its client ID."""
    for iss in (str(fake.app_id), fake.client_id):
        reply = await call(fake, "/app", token=sign(fake, iss=iss))
        assert reply.status == 200
        assert reply.json()["id"] == fake.app_id
        assert reply.json()["client_id"] == fake.client_id


@pytest.mark.parametrize(
    ("claims", "reason", "text"),
    [
        ({"iat": 120}, "iat", "('iat')"),
        ({"exp": -5}, "exp_expired", "('exp') must be a numeric"),
        ({"iat": -60, "exp": 900}, "exp_too_far", "too far"),
        ({"iss": "99999"}, "issuer", "could not be decoded"),
    ],
)
async def test_jwt_claims_are_checked(
    fake: FakeGitHub, call: Call, claims: dict[str, Any], reason: str, text: str
) -> None:
    """Each refused claim answers GitHub's 401 message and is counted by reason (times are
    seconds from now)."""
    now = time.time()
    timed = {k: now + v if k in ("iat", "exp") else v for k, v in claims.items()}
    reply = await call(fake, "/app", token=sign(fake, **timed))
    assert reply.status == 401
    assert text in reply.json()["message"]
    assert fake.stats.jwt_refusals[reason] == 1


async def test_a_jwt_from_another_key_is_refused(fake: FakeGitHub, call: Call) -> None:
    """A valid-looking JWT signed with another RSA key fails the signature check."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 540, "iss": str(fake.app_id)}, other, algorithm="RS256"
    )
    reply = await call(fake, "/app", token=token)
    assert reply.status == 401
    assert fake.stats.jwt_refusals["signature"] == 1


async def test_the_jwt_opens_only_app_endpoints(fake: FakeGitHub, call: Call) -> None:
    """A JWT on a jobs endpoint is refused (and counted as a wrong endpoint)."""
    run = fake.add_run(OWNER, REPO, jobs=1)
    reply = await call(
        fake, f"/repos/{OWNER}/{REPO}/actions/jobs/{run.latest[0]['id']}", token=sign(fake)
    )
    assert reply.status == 401
    assert fake.stats.jwt_refusals["wrong_endpoint"] == 1


async def test_lookup_and_mint(fake: FakeGitHub, call: Call) -> None:
    """The repository's installation is found; its token opens the jobs endpoints."""
    run = fake.add_run(OWNER, REPO, jobs=1)
    installation = fake.add_installation(OWNER, repos=[REPO])
    found = await call(fake, f"/repos/{OWNER}/{REPO}/installation", token=sign(fake))
    assert found.status == 200
    assert found.json()["id"] == installation
    missing = await call(fake, f"/repos/{OWNER}/elsewhere/installation", token=sign(fake))
    assert missing.status == 404
    token = await mint(call, fake, installation, json={"permissions": {"actions": "read"}})
    assert len(token) >= 500  # opaque, and long like GitHub's newer tokens
    job = await call(fake, f"/repos/{OWNER}/{REPO}/actions/jobs/{run.latest[0]['id']}", token=token)
    assert job.status == 200
    other = await call(fake, f"/repos/{OWNER}/other/actions/jobs/1", token=token)
    assert other.status == 404  # not a repository of this installation
    assert fake.stats.app_mints == 1
    assert fake.stats.app_lookups == 2
    assert fake.stats.requests_per_token[f"installation {installation} #1"] == 1
    assert token in fake.app_secrets()


async def test_mint_refusals(fake: FakeGitHub, call: Call) -> None:
    """Unknown: 404; suspended: 403; repositories outside the installation: 422."""
    installation = fake.add_installation(OWNER, repos=[REPO])
    path = "/app/installations/{}/access_tokens"
    unknown = await call(fake, path.format(1), method="POST", token=sign(fake))
    assert unknown.status == 404
    outside = await call(
        fake,
        path.format(installation),
        method="POST",
        token=sign(fake),
        json={"repositories": ["x"]},
    )
    assert outside.status == 422
    fake.suspend_installation(installation)
    suspended = await call(fake, path.format(installation), method="POST", token=sign(fake))
    assert suspended.status == 403
    assert "suspended" in suspended.json()["message"]
    assert dict(fake.stats.app_mint_refusals) == {"not_found": 1, "invalid": 1, "suspended": 1}


async def test_an_installation_token_is_not_a_jwt(fake: FakeGitHub, call: Call) -> None:
    """An installation token on ``/app`` is refused."""
    token = await mint(call, fake, fake.add_installation(OWNER))
    reply = await call(fake, "/app", token=token)
    assert reply.status == 401
    assert fake.stats.app_unauthorized["not_a_jwt"] == 1


async def test_tokens_expire_after_their_lifetime(call: Call) -> None:
    """``expires_at`` is the lifetime away (rounded up); after it, 401 Bad credentials."""
    async with FakeGitHub(app_token_lifetime=1.0) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        installation = fake.add_installation(OWNER)
        reply = await call(
            fake,
            f"/app/installations/{installation}/access_tokens",
            method="POST",
            token=sign(fake),
        )
        token = reply.json()["token"]
        expires = reply.json()["expires_at"]
        assert expires.endswith("Z")
        url = f"/repos/{OWNER}/{REPO}/actions/jobs/{run.latest[0]['id']}"
        assert (await call(fake, url, token=token)).status == 200
        await asyncio.sleep(2.05)
        late = await call(fake, url, token=token)
        assert late.status == 401
        assert late.json()["message"] == "Bad credentials"
        assert fake.stats.app_unauthorized["expired"] == 1


async def test_replication_lag_refuses_a_fresh_token(call: Call) -> None:
    """For its first ``app_replication_lag`` seconds a token answers 401, then works."""
    async with FakeGitHub(app_replication_lag=0.4) as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        token = await mint(call, fake, fake.add_installation(OWNER))
        url = f"/repos/{OWNER}/{REPO}/actions/jobs/{run.latest[0]['id']}"
        assert (await call(fake, url, token=token)).status == 401
        await asyncio.sleep(0.5)
        assert (await call(fake, url, token=token)).status == 200
        assert fake.stats.app_unauthorized["replication_lag"] == 1


@pytest.mark.parametrize("offset", [300.0, -300.0])
async def test_the_clock_offset_shows_in_date_and_the_checks(call: Call, offset: float) -> None:
    """``Date`` is on the fake's clock; a JWT on host time fails when the fake is behind."""
    async with FakeGitHub(app_clock_offset=offset) as fake:
        reply = await call(fake, "/app", token=sign(fake))
        date = parsedate_to_datetime(reply.headers["Date"]).timestamp()
        assert date == pytest.approx(time.time() + offset, abs=3)
        assert reply.status == (200 if offset > 0 else 401)
        corrected = sign(fake, iat=time.time() + offset - 60, exp=time.time() + offset + 540)
        assert (await call(fake, "/app", token=corrected)).status == 200


async def test_each_installation_has_its_own_budget(call: Call) -> None:
    """``x-ratelimit-used`` counts per installation, apart from the static token's."""
    async with FakeGitHub() as fake:
        run = fake.add_run(OWNER, REPO, jobs=1)
        first = await mint(call, fake, fake.add_installation(OWNER))
        second = await mint(call, fake, fake.add_installation(OWNER))
        url = f"/repos/{OWNER}/{REPO}/actions/jobs/{run.latest[0]['id']}"
        for _ in range(3):
            await call(fake, url, token=first)
        reply = await call(fake, url, token=second)
        assert reply.headers["x-ratelimit-used"] == "1"
        reply = await call(fake, url, token=first)
        assert reply.headers["x-ratelimit-used"] == "4"
        assert fake.stats.requests_per_installation.total() == 5
