"""The auth kinds with an injected clock and a scripted transport (no server, no network).

The transport plays the session: it asks the auth for a credential and answers mints and
lookups from a script, so single flight, the renewal schedule and the JWT claims are
checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gh_jobs_async import (
    AppAuth,
    Client,
    InstallationAuth,
    InvalidArgumentError,
    ProvidedToken,
    ProviderAuth,
    ServerError,
    TokenAuth,
    UnauthorizedError,
    UnsafeURLError,
)
from gh_jobs_async import auth as auth_module
from gh_jobs_async._auth import Auth, Credential, Refusal, Tries
from gh_jobs_async._limits import Budget, BudgetSettings, LimitStore, LocalLimits
from gh_jobs_async._sansio import ApiBase, parse_base_url
from gh_jobs_async._session import Answer

START = 1_700_000_000.0
API = "https://api.github.com"


@pytest.fixture(name="rsa_key", scope="module")
def fixture_rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key for the module (generating one takes tens of ms)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any, fmt: serialization.PrivateFormat) -> str:
    """``key`` as unencrypted PEM text."""
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.fixture(name="pkcs1")
def fixture_pkcs1(rsa_key: rsa.RSAPrivateKey) -> str:
    """The key as GitHub's download holds it: ``BEGIN RSA PRIVATE KEY``."""
    return pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)


class Clock:
    """Injected epoch clock; ``sleep`` advances it and records the waits."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Config:
    """What an auth reads from the session's config: the clocks."""

    def __init__(self, clock: Clock) -> None:
        self.clock: Callable[[], float] = clock
        self.sleep = clock.sleep


Handler = Callable[[str, str, object, str | None], Answer]


class Scripted:
    """A transport whose answers come from ``handler(method, url, json, token)``."""

    def __init__(self, handler: Handler, clock: Clock, gate: asyncio.Event | None = None) -> None:
        self.api: ApiBase = parse_base_url(API)
        self.config = Config(clock)
        self.handler = handler
        self.gate = gate
        self.sent: list[tuple[str, str, object, str | None]] = []

    async def request(
        self,
        url: str,
        *,
        method: str = "GET",
        follow_redirects: bool = True,
        json: object = None,
        auth: Auth | None = None,
    ) -> Answer:
        credential = None if auth is None else await auth.obtain(self, url)
        token = None if credential is None else credential.token
        self.sent.append((method, url, json, token))
        if self.gate is not None:
            await self.gate.wait()
        return self.handler(method, url, json, token)


def minted(clock: Clock, lifetime: float = 3600.0, counter: list[int] | None = None) -> Handler:
    """A handler that mints ``tok-N`` tokens lasting ``lifetime`` s on the injected clock."""
    issued = counter if counter is not None else []

    def handle(method: str, url: str, body: object, token: str | None) -> Answer:
        issued.append(1)
        expires = datetime.fromtimestamp(clock.now + lifetime, UTC)
        payload = {"token": f"tok-{len(issued)}", "expires_at": expires.isoformat()}
        headers = {"date": formatdate(clock.now, usegmt=True)}
        return Answer(201, headers, json.dumps(payload).encode(), url)

    return handle


def refusing(status: int, message: str) -> Handler:
    """A handler answering every request with ``status`` (raised as the session would)."""

    def handle(method: str, url: str, body: object, token: str | None) -> Answer:
        from gh_jobs_async import _sansio

        decision = _sansio.classify(
            status, {}, json.dumps({"message": message}).encode(), method=method, url=url, now=0
        )
        assert isinstance(decision, _sansio.Fail | _sansio.Retry)
        raise decision.error

    return handle


# --------------------------------------------------------------------------- the key


def test_pkcs1_pkcs8_crlf_escaped_and_path_keys_all_load(
    rsa_key: rsa.RSAPrivateKey, pkcs1: str, tmp_path: Path
) -> None:
    """GitHub's PKCS#1 download, PKCS#8, CRLF endings, literal ``\\n`` and a path all work."""
    pkcs8 = pem(rsa_key, serialization.PrivateFormat.PKCS8)
    key_file = tmp_path / "app.pem"
    key_file.write_text(pkcs1)
    for key in (
        pkcs1,
        pkcs8.encode(),
        pkcs1.replace("\n", "\r\n"),
        pkcs1.replace("\n", "\\n"),
        key_file,
        str(key_file),
    ):
        assert AppAuth(123, key).issuer == "123"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.replace("MII", "XYZ", 1), "not a readable PEM private key"),
        (lambda p: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "not a"),
    ],
)
def test_a_broken_key_is_refused_without_showing_it(
    pkcs1: str, make: Callable[[str], str], reason: str
) -> None:
    """A corrupt key raises InvalidArgumentError naming the problem, never the key."""
    broken = make(pkcs1)
    with pytest.raises(InvalidArgumentError) as info:
        AppAuth(1, broken)
    assert reason in str(info.value)
    body = broken.splitlines()[1]
    assert body not in str(info.value)
    assert body not in repr(info.value.value)
    assert info.value.__context__ is None


def test_a_non_rsa_key_is_refused() -> None:
    """An EC key cannot sign RS256: InvalidArgumentError says so."""
    ec_pem = pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    with pytest.raises(InvalidArgumentError, match="not an RSA key") as info:
        AppAuth(1, ec_pem)
    assert ec_pem.splitlines()[1] not in str(info.value)


def test_an_encrypted_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """A passphrase-protected key: InvalidArgumentError asks for an unencrypted one."""
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(InvalidArgumentError, match="encrypted"):
        AppAuth(1, encrypted)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    """A missing file: InvalidArgumentError with its path and why."""
    with pytest.raises(InvalidArgumentError, match="cannot read the key file") as info:
        AppAuth(1, tmp_path / "nope.pem")
    assert "nope.pem" in str(info.value)


@pytest.mark.parametrize("issuer", [0, -3, True, "", "has space", 1.5])
def test_a_bad_issuer_is_refused(pkcs1: str, issuer: object) -> None:
    """The app ID or client ID must be a positive int or a plain identifier."""
    with pytest.raises(InvalidArgumentError, match="app_id_or_client_id"):
        AppAuth(issuer, pkcs1)  # type: ignore[arg-type]


def test_without_the_extra_app_auth_names_it(pkcs1: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PyJWT, constructing AppAuth raises ImportError naming the ``app`` extra."""
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ImportError, match=r"gh_jobs_async\[app\]"):
        AppAuth(1, pkcs1)


def test_the_auth_kinds_are_public() -> None:
    """Importable from the package and from ``gh_jobs_async.auth``."""
    assert auth_module.AppAuth is AppAuth
    assert auth_module.InstallationAuth is InstallationAuth
    assert auth_module.ProviderAuth is ProviderAuth
    assert auth_module.TokenAuth is TokenAuth
    assert auth_module.ProvidedToken is ProvidedToken


# --------------------------------------------------------------------------- the JWT


async def test_jwt_claims_on_the_injected_clock(rsa_key: rsa.RSAPrivateKey, pkcs1: str) -> None:
    """RS256, ``iat`` = now - 60, ``exp`` = ``iat`` + 600, ``iss`` the string given."""
    clock = Clock()
    app = AppAuth("Iv23liABC", pkcs1)
    transport = Scripted(minted(clock), clock)
    credential = await app.obtain(transport, f"{API}/app")
    assert credential is not None
    header = jwt.get_unverified_header(credential.token)
    claims = jwt.decode(
        credential.token,
        rsa_key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert header["alg"] == "RS256"
    assert claims == {"iat": int(START) - 60, "exp": int(START) + 540, "iss": "Iv23liABC"}


async def test_the_jwt_is_reused_until_shortly_before_it_expires(pkcs1: str) -> None:
    """The same JWT 8 minutes later; a new one once less than a minute is left."""
    clock = Clock()
    app = AppAuth(7, pkcs1)
    transport = Scripted(minted(clock), clock)
    first = await app.obtain(transport, f"{API}/app")
    clock.now += 470
    assert await app.obtain(transport, f"{API}/app") is first
    clock.now += 30
    again = await app.obtain(transport, f"{API}/app")
    assert again is not None
    assert first is not None
    assert again.token != first.token


async def test_the_jwt_goes_only_to_app_endpoints(pkcs1: str) -> None:
    """Asked for a jobs URL, AppAuth refuses with UnsafeURLError."""
    clock = Clock()
    app = AppAuth(7, pkcs1)
    transport = Scripted(minted(clock), clock)
    with pytest.raises(UnsafeURLError, match="only to /app"):
        await app.obtain(transport, f"{API}/repos/o/r/actions/jobs/1")


async def test_a_refused_iat_learns_the_offset_from_date(pkcs1: str) -> None:
    """GitHub 300 s behind refuses ``iat``: the next JWT is signed 300 s earlier, once."""
    clock = Clock()
    app = AppAuth(7, pkcs1)
    transport = Scripted(minted(clock), clock)
    first = await app.obtain(transport, f"{API}/app")
    refusal = Refusal(
        status=401,
        message="'Issued at' claim ('iat') must be an Integer representing the time",
        date=formatdate(START - 300, usegmt=True),
        received_at=START,
    )
    tries = Tries()
    assert app.refused(first, refusal, tries) == 0.0
    assert app.clock_offset == pytest.approx(-299.5)
    second = await app.obtain(transport, f"{API}/app")
    assert second is not None
    claims = jwt.decode(second.token, options={"verify_signature": False})
    assert claims["iat"] == int(START - 299.5) - 60
    assert app.refused(second, refusal, tries) is None  # once per request


# --------------------------------------------------------------------------- installations


def installation_of(pkcs1: str, **kwargs: Any) -> InstallationAuth:
    """An installation auth bound to api.github.com."""
    inst = AppAuth(7, pkcs1).installation(42, **kwargs)
    inst.bind(parse_base_url(API))
    return inst


async def test_concurrent_requests_share_one_mint(pkcs1: str) -> None:
    """100 concurrent requests finding no token cause exactly one mint, and share it."""
    clock, mints = Clock(), []
    gate = asyncio.Event()
    transport = Scripted(minted(clock, counter=mints), clock, gate)
    inst = installation_of(pkcs1)
    waiters = [asyncio.ensure_future(inst.obtain(transport, f"{API}/x")) for _ in range(100)]
    await asyncio.sleep(0.01)
    gate.set()
    credentials = await asyncio.gather(*waiters)
    assert len(mints) == 1
    assert {c.token for c in credentials if c is not None} == {"tok-1"}


async def test_the_token_is_kept_until_its_renewal_time(pkcs1: str) -> None:
    """An hour's token is reused for 55 minutes, then renewed; the budget key stays."""
    clock, mints = Clock(), []
    transport = Scripted(minted(clock, counter=mints), clock)
    inst = installation_of(pkcs1)
    key = inst.budget_key
    first = await inst.obtain(transport, f"{API}/x")
    clock.now += 3299
    assert await inst.obtain(transport, f"{API}/x") is first
    clock.now += 1
    renewed = await inst.obtain(transport, f"{API}/x")
    assert renewed is not None
    assert renewed.token == "tok-2"
    assert len(mints) == 2
    assert inst.budget_key == key == "installation:https://api.github.com:42"


async def test_the_mint_asks_for_the_repositories_and_permissions(pkcs1: str) -> None:
    """The mint is a JWT-signed POST with the narrowing as its JSON body."""
    clock = Clock()
    transport = Scripted(minted(clock), clock)
    inst = installation_of(pkcs1, repositories=["b", "a"], permissions={"actions": "read"})
    await inst.obtain(transport, f"{API}/x")
    method, url, body, token = transport.sent[0]
    assert (method, url) == ("POST", f"{API}/app/installations/42/access_tokens")
    assert body == {"repositories": ["a", "b"], "permissions": {"actions": "read"}}
    assert token is not None
    assert token.startswith("eyJ")


async def test_a_failed_mint_is_shared_not_kept_and_backs_off(pkcs1: str) -> None:
    """Concurrent waiters all get the failure; the next request mints again after 0.5 s."""
    clock = Clock()
    transport = Scripted(refusing(500, "Server Error"), clock)
    inst = installation_of(pkcs1)
    results = await asyncio.gather(
        *(inst.obtain(transport, f"{API}/x") for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, ServerError) for r in results)
    assert len(transport.sent) == 1
    transport.handler = minted(clock)
    credential = await inst.obtain(transport, f"{API}/x")
    assert credential is not None
    assert clock.sleeps == [0.5]


async def test_a_mint_refused_for_good_raises_now_and_later(pkcs1: str) -> None:
    """404 on the mint: UnauthorizedError naming the installation; then no more requests."""
    clock = Clock()
    transport = Scripted(refusing(404, "Not Found"), clock)
    inst = installation_of(pkcs1)
    for _ in range(3):
        with pytest.raises(UnauthorizedError, match="installation 42 of app 7") as info:
            await inst.obtain(transport, f"{API}/x")
        assert info.value.__context__ is None
    assert len(transport.sent) == 1
    assert clock.sleeps == []


async def test_a_401_drops_only_the_token_it_was_about(pkcs1: str) -> None:
    """A late 401 for token #1 does not drop token #2 minted meanwhile."""
    clock, mints = Clock(), []
    transport = Scripted(minted(clock, counter=mints), clock)
    inst = installation_of(pkcs1)
    first = await inst.obtain(transport, f"{API}/x")
    clock.now += 600
    refusal = Refusal(401, "Bad credentials", None, clock.now)
    assert inst.refused(first, refusal, Tries()) == 0.0  # old: renew
    second = await inst.obtain(transport, f"{API}/x")
    assert inst.refused(first, refusal, Tries()) == 0.0  # a stale answer about #1
    assert await inst.obtain(transport, f"{API}/x") is second
    assert len(mints) == 2


async def test_a_fresh_token_gets_lag_retries_then_one_renewal(pkcs1: str) -> None:
    """401s right after a mint: same token after short pauses, then renew once, then fail."""
    clock = Clock()
    transport = Scripted(minted(clock), clock)
    inst = installation_of(pkcs1)
    credential = await inst.obtain(transport, f"{API}/x")
    tries = Tries()
    pauses = []
    while True:
        wait = inst.refused(credential, Refusal(401, "Bad credentials", None, clock.now), tries)
        if wait is None:
            break
        pauses.append(wait)
        clock.now += wait
        if tries.renewed:
            credential = await inst.obtain(transport, f"{API}/x")
    assert pauses[0] == 0.25
    assert sum(pauses) < 15
    assert tries.renewed


# --------------------------------------------------------------------------- providers


async def test_a_provider_is_asked_before_expiry_and_after_a_401() -> None:
    """Called once; again when its expiry is near; again once after a 401."""
    clock = Clock()
    calls: list[int] = []

    async def provide() -> ProvidedToken:
        calls.append(1)
        expiry = datetime.fromtimestamp(clock.now + 1200, UTC)
        return ProvidedToken(f"vault-{len(calls)}", expiry)

    auth = ProviderAuth(provide, name="vault")
    transport = Scripted(minted(clock), clock)
    first = await auth.obtain(transport, f"{API}/x")
    assert await auth.obtain(transport, f"{API}/x") is first
    clock.now += 901  # 5 minutes before the 20-minute expiry
    second = await auth.obtain(transport, f"{API}/x")
    tries = Tries()
    assert auth.refused(second, Refusal(401, "Bad credentials", None, clock.now), tries) == 0.0
    third = await auth.obtain(transport, f"{API}/x")
    assert auth.refused(third, Refusal(401, "Bad credentials", None, clock.now), tries) is None
    assert [c.token for c in (first, second, third) if c is not None] == [
        "vault-1",
        "vault-2",
        "vault-3",
    ]
    assert auth.budget_key == "provider:vault"


async def test_a_provider_budget_is_named_after_its_token() -> None:
    """Without a name: ``token:`` and the token's hash, as for a static token."""
    clock = Clock()

    async def provide() -> str:
        return "ghp_example"

    auth = ProviderAuth(provide)
    await auth.obtain(Scripted(minted(clock), clock), f"{API}/x")
    assert auth.budget_key == TokenAuth("ghp_example").budget_key
    assert auth.credential_id() == TokenAuth("ghp_example").credential_id()


# --------------------------------------------------------------------------- the client


def test_token_and_auth_together_are_refused() -> None:
    """``Client(token=..., auth=...)`` is an InvalidArgumentError, before any request."""
    with pytest.raises(InvalidArgumentError, match="not both"):
        Client("ghp_x", auth=TokenAuth("ghp_y"))


def test_an_app_auth_is_not_a_client_auth(pkcs1: str) -> None:
    """The App's JWT opens only /app endpoints: the client wants an installation."""
    with pytest.raises(InvalidArgumentError, match=r"app.installation"):
        Client(auth=AppAuth(1, pkcs1))


def test_auth_must_be_an_auth() -> None:
    """A string for ``auth=`` is refused without showing it."""
    with pytest.raises(InvalidArgumentError, match="<str>"):
        Client(auth="ghp_secret")  # type: ignore[arg-type]


def test_an_app_belongs_to_one_host(pkcs1: str) -> None:
    """The same App with two API roots: InvalidArgumentError at the second client."""
    app = AppAuth(1, pkcs1)
    Client(auth=app.installation(1))
    with pytest.raises(InvalidArgumentError, match="one GitHub host"):
        Client(auth=app.installation(1), base_url="https://ghe.example.com/api/v3")


def test_installation_arguments_are_checked(pkcs1: str) -> None:
    """Id xor owner/repo; permission levels; at most 500 repositories."""
    app = AppAuth(1, pkcs1)
    with pytest.raises(InvalidArgumentError):
        app.installation()
    with pytest.raises(InvalidArgumentError):
        app.installation(3, owner="o", repo="r")
    with pytest.raises(InvalidArgumentError, match="read"):
        app.installation(3, permissions={"actions": "everything"})
    with pytest.raises(InvalidArgumentError, match="500"):
        app.installation(3, repositories=[f"r{i}" for i in range(501)])
    assert app.installation(3) is app.installation(3)


def test_budget_keys_and_credential_ids_are_stable_and_not_secret() -> None:
    """A static token's key is ``token:`` + its hash; the client exposes the same."""
    token = "ghs_" + "A" * 516
    client = Client(token)
    key = client.budget_key
    assert key.startswith("token:")
    assert token not in key
    assert client._session.credential_id() == TokenAuth(token).credential_id()
    assert token not in repr(client) + repr(client.auth) + repr(client._session)


def test_anonymous_clients_are_budgeted_per_machine() -> None:
    """GitHub counts unauthenticated requests per IP: the anonymous budget is this host's,
    not one for every anonymous client of every machine on a shared store."""
    import socket

    assert Client().budget_key == f"anonymous:{socket.gethostname()}"
    assert Client().budget_key == Client().budget_key


async def test_reprs_never_show_secrets(pkcs1: str) -> None:
    """The key, the JWT and the token stay out of every repr."""
    clock = Clock()
    app = AppAuth(7, pkcs1)
    inst = app.installation(42)
    inst.bind(parse_base_url(API))
    transport = Scripted(minted(clock), clock)
    credential = await inst.obtain(transport, f"{API}/x")
    jwt_credential = await app.obtain(transport, f"{API}/app")
    assert isinstance(credential, Credential)
    assert isinstance(jwt_credential, Credential)
    shown = " ".join(repr(x) for x in (app, inst, credential, jwt_credential))
    for secret in (credential.token, jwt_credential.token, pkcs1.splitlines()[1]):
        assert secret not in shown


async def test_after_a_lag_refusal_other_requests_hold_the_token_back(pkcs1: str) -> None:
    """Once a fresh token is refused for lag, the next request waits out the pause before
    sending it, instead of being refused in turn."""
    clock = Clock()
    transport = Scripted(minted(clock), clock)
    inst = installation_of(pkcs1)
    credential = await inst.obtain(transport, f"{API}/x")
    wait = inst.refused(credential, Refusal(401, "Bad credentials", None, clock.now), Tries())
    assert wait == 0.25
    assert await inst.obtain(transport, f"{API}/x") is credential
    assert clock.sleeps == [0.25]


# --------------------------------------------------------------------- secrets in errors


def test_a_key_that_is_not_pem_text_is_not_shown_as_a_path(pkcs1: str) -> None:
    """A base64-encoded key (how CI secrets often hold it) or the key's body without its
    armour is taken for a file name; the error says so without showing a byte of it."""
    import base64

    body = "".join(pkcs1.splitlines()[1:-1])
    for given in (base64.b64encode(pkcs1.encode()).decode(), "\n".join(pkcs1.splitlines()[1:-1])):
        with pytest.raises(InvalidArgumentError, match="cannot read the key file") as info:
            AppAuth(1, given)
        shown = str(info.value) + repr(info.value.value) + repr(info.value)
        assert given[:40] not in shown
        assert body[:40] not in shown
        assert "redacted" in shown


def test_a_key_given_as_the_issuer_is_not_shown(pkcs1: str) -> None:
    """Arguments swapped, ``AppAuth(pem, 4242)``: the issuer error does not print the key."""
    with pytest.raises(InvalidArgumentError, match="app_id_or_client_id") as info:
        AppAuth(pkcs1, 4242)  # type: ignore[arg-type]
    assert pkcs1.splitlines()[1] not in str(info.value)
    assert "-----BEGIN" not in str(info.value)


def test_a_token_given_as_the_provider_or_its_name_is_not_shown() -> None:
    token = "ghp_" + "s3cr3t" * 6
    with pytest.raises(InvalidArgumentError, match="provider") as info:
        ProviderAuth(token)  # type: ignore[arg-type]
    assert token not in str(info.value)

    async def provide() -> str:
        return "x"

    with pytest.raises(InvalidArgumentError, match="name") as info:
        ProviderAuth(provide, name=token + "!")
    assert token not in str(info.value)


class _SharedStore(LimitStore):
    """A store that is not this process's own (as a RedisStore is), optionally naming its
    budget; its budgets are kept in memory here."""

    def __init__(self, budget: str | None = None) -> None:
        self.budget = budget

    def open_budget(self, settings: BudgetSettings) -> Budget:
        return LocalLimits().open_budget(settings)


def test_an_unnamed_provider_on_a_shared_store_is_refused() -> None:
    """A shared store names the budget when the client is made, before the provider gave a
    token: unnamed, every such client would share one budget. Refused, naming the fix."""

    async def provide() -> str:
        return "ghp_x"

    with pytest.raises(InvalidArgumentError, match="name=") as info:
        Client(auth=ProviderAuth(provide), limits=_SharedStore())
    assert "budget=" in str(info.value)
    Client(auth=ProviderAuth(provide, name="vault"), limits=_SharedStore())
    Client(auth=ProviderAuth(provide), limits=_SharedStore(budget="team"))
    Client(auth=ProviderAuth(provide), limits=LocalLimits())
    Client(auth=ProviderAuth(provide))


# ------------------------------------------------- a renewal failing before the token expires


async def test_a_failing_renewal_keeps_the_still_valid_token_in_use(
    pkcs1: str, caplog: pytest.LogCaptureFixture
) -> None:
    """GitHub failing (500) when the hour token is due, 5 minutes before it expires: the
    request gets the current token, not the error; renewals are tried again in the
    background, backing off, none awaited by a request; once one succeeds the new token
    is used; a minute before expiry the failure reaches the caller."""
    clock, mints = Clock(), []
    transport = Scripted(minted(clock, counter=mints), clock)
    inst = installation_of(pkcs1)
    first = await inst.obtain(transport, f"{API}/x")
    assert first is not None
    clock.now += 3300  # due: 5 minutes before it expires
    transport.handler = refusing(500, "Server Error")
    with caplog.at_level("WARNING", logger="gh_jobs_async"):
        assert await inst.obtain(transport, f"{API}/x") is first
    assert len(transport.sent) == 2  # the first mint, the failed one
    assert "stays in use" in caplog.text
    assert first.token not in caplog.text
    # within the backoff no renewal is started; each request gets the token at once
    for _ in range(5):
        assert await inst.obtain(transport, f"{API}/x") is first
    assert len(transport.sent) == 2
    clock.now += 1.0  # past the backoff: a renewal starts in the background, fails again
    assert await inst.obtain(transport, f"{API}/x") is first
    await asyncio.sleep(0.01)
    assert len(transport.sent) == 3
    transport.handler = minted(clock, counter=mints)
    clock.now += 10.0
    assert await inst.obtain(transport, f"{API}/x") is first  # it starts the renewal
    for _ in range(10):
        await asyncio.sleep(0)
    second = await inst.obtain(transport, f"{API}/x")
    assert second is not None
    assert second is not first
    assert second.token.startswith("tok-")


async def test_a_failing_renewal_near_expiry_reaches_the_caller(pkcs1: str) -> None:
    """Within a fifth of the margin of its expiry (a minute for an hour token) the token is
    not sent any more: the renewal's error is raised."""
    clock = Clock()
    transport = Scripted(minted(clock), clock)
    inst = installation_of(pkcs1)
    await inst.obtain(transport, f"{API}/x")
    clock.now += 3541  # 59 s left
    transport.handler = refusing(500, "Server Error")
    with pytest.raises(ServerError):
        await inst.obtain(transport, f"{API}/x")


async def test_a_renewal_refused_for_good_is_not_waited_out(pkcs1: str) -> None:
    """A 404 (uninstalled) on the renewal is raised at once, though the token has minutes
    left: it is a refusal, not an outage."""
    clock = Clock()
    transport = Scripted(minted(clock), clock)
    inst = installation_of(pkcs1)
    await inst.obtain(transport, f"{API}/x")
    clock.now += 3300
    transport.handler = refusing(404, "Not Found")
    with pytest.raises(UnauthorizedError):
        await inst.obtain(transport, f"{API}/x")


async def test_a_refusal_for_good_is_kept_a_minute_then_asked_again(pkcs1: str) -> None:
    """Uninstalled (404): raised without a request for a minute; then the installation is
    asked for once more, so a service recovers once the App is installed again."""
    clock = Clock()
    transport = Scripted(refusing(404, "Not Found"), clock)
    inst = installation_of(pkcs1)
    with pytest.raises(UnauthorizedError):
        await inst.obtain(transport, f"{API}/x")
    clock.now += 59
    with pytest.raises(UnauthorizedError):
        await inst.obtain(transport, f"{API}/x")
    assert len(transport.sent) == 1
    transport.handler = minted(clock)
    clock.now += 1
    credential = await inst.obtain(transport, f"{API}/x")
    assert credential is not None
    assert credential.token == "tok-1"
    assert len(transport.sent) == 2


async def test_a_mint_without_expires_at_is_taken_to_last_an_hour(
    pkcs1: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A mint answer whose expires_at is missing: a WARNING, and the token is renewed as an
    hour's token would be (never kept forever)."""
    clock = Clock()

    def handle(method: str, url: str, body: object, token: str | None) -> Answer:
        return Answer(201, {}, json.dumps({"token": "tok-x"}).encode(), url)

    inst = installation_of(pkcs1)
    with caplog.at_level("WARNING", logger="gh_jobs_async"):
        credential = await inst.obtain(Scripted(handle, clock), f"{API}/x")
    assert credential is not None
    assert credential.schedule.expires_at == START + 3600
    assert credential.schedule.refresh_at == START + 3300
    assert "without a readable expires_at" in caplog.text
    assert "tok-x" not in caplog.text


async def test_a_422_mint_points_at_the_narrowing_not_at_an_uninstall(pkcs1: str) -> None:
    """A 422 (repositories/permissions the installation lacks) says so in the error."""
    clock = Clock()
    transport = Scripted(
        refusing(422, "There is at least one repository that does not exist"), clock
    )
    inst = installation_of(pkcs1, repositories=["nope"])
    with pytest.raises(UnauthorizedError, match="permissions=") as info:
        await inst.obtain(transport, f"{API}/x")
    assert "uninstalled" not in str(info.value)
