"""The fake over HTTPS: FakeConfig(ssl_context=...) serves both origins with TLS."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import pytest
import trustme

from gh_jobs_async.testing import FakeConfig, FakeGitHub

pytestmark = pytest.mark.integration


@pytest.fixture(name="ca", scope="module")
def fixture_ca() -> trustme.CA:
    """A throw-away certificate authority."""
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context whose certificate covers both loopback origins of the fake."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "127.0.0.2", "localhost").configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts ``ca``."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_both_origins_serve_https(ca: trustme.CA) -> None:
    """URLs, Link headers and the log redirect are https; the whole flow works over TLS."""
    async with FakeGitHub(ssl_context=server_context(ca)) as fake:
        run = fake.add_run(jobs=3, log_size=2000)
        assert fake.api_url.startswith("https://")
        assert fake.blob_url.startswith("https://")
        auth = {"Authorization": f"Bearer {fake.token}"}
        connector = aiohttp.TCPConnector(ssl=client_context(ca))
        async with aiohttp.ClientSession(connector=connector) as session:
            base = f"{fake.api_url}/repos/octo-org/hello-world/actions"
            async with session.get(f"{base}/runs/{run.run_id}/jobs?per_page=1", headers=auth) as r:
                assert r.status == 200
                body: Any = await r.json()
                assert body["jobs"][0]["url"].startswith(fake.api_url + "/")
                assert f"<{fake.api_url}/repos/" in r.headers["Link"]
            job_id = run.job_ids[0]
            async with session.get(
                f"{base}/jobs/{job_id}/logs", headers=auth, allow_redirects=False
            ) as r:
                assert r.status == 302
                location = r.headers["Location"]
            assert location.startswith(fake.blob_url + "/")
            async with session.get(location) as r:
                assert r.status == 200
                assert await r.read() == fake.log_bytes(job_id)
        assert fake.stats.blob_authorization_headers == 0


async def test_a_client_that_does_not_trust_the_ca_is_refused(ca: trustme.CA) -> None:
    """Default verification fails against the fake's certificate: it is really TLS."""
    async with FakeGitHub(ssl_context=server_context(ca)) as fake:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(fake.api_url + "/repos/o/r/actions/jobs/1")
            with pytest.raises(aiohttp.ClientError):
                await session.get(fake.api_url.replace("https://", "http://") + "/x")
        assert fake.stats.api_requests == 0


def test_ssl_context_must_be_a_context() -> None:
    """Anything but an ssl.SSLContext (or None) is rejected on creation."""
    with pytest.raises(ValueError, match="ssl_context"):
        FakeConfig(ssl_context="cert.pem")  # type: ignore[arg-type]


def test_config_repr_and_equality_ignore_the_context(ca: trustme.CA) -> None:
    """The context is not part of the repr (it holds a key) nor of equality."""
    config = FakeConfig(ssl_context=server_context(ca))
    assert "ssl_context" not in repr(config)
    assert config == FakeConfig()
