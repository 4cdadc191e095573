"""``gh-jobs`` as a GitHub App: ``--app-id``, ``--app-key-file``, ``--installation-id`` and
their environment variables, run as a subprocess against the fake's App."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_cli import Cli, assert_intact, logs_in

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration

OWNER, REPO = "octo-org", "hello-world"
SLUG = f"{OWNER}/{REPO}"


@pytest.fixture(name="fake")
async def fixture_fake() -> AsyncIterator[FakeGitHub]:
    """A fake whose App is installed on the owner, with 2 s tokens."""
    async with FakeGitHub(app_token_lifetime=2.0, api_latency=0.01) as fake:
        fake.add_installation(OWNER)
        yield fake


@pytest.fixture(name="cli")
async def fixture_cli(fake: FakeGitHub) -> AsyncIterator[Cli]:
    cli = Cli(fake)
    yield cli
    await cli.close()


@pytest.fixture(name="key_file")
def fixture_key_file(fake: FakeGitHub, tmp_path: Path) -> Path:
    """The App's private key in a file, as GitHub's download."""
    path = tmp_path / "app.pem"
    path.write_text(fake.app_private_key_pem)
    return path


def no_secret(fake: FakeGitHub, text: str) -> None:
    """Neither the key nor a JWT nor a token in ``text``."""
    for secret in fake.app_secrets()[1:]:
        assert secret not in text
    for line in fake.app_private_key_pem.splitlines()[1:-1]:
        assert line not in text
    assert "eyJ" not in text


async def test_logs_as_an_app_from_the_options(
    cli: Cli, fake: FakeGitHub, key_file: Path, tmp_path: Path
) -> None:
    """``--app-id CLIENT_ID --app-key-file PEM``: the installation is found from OWNER/REPO,
    every log arrives intact, and nothing secret shows even with ``--debug``."""
    run = fake.add_run(OWNER, REPO, jobs=12, log_size=2048)
    out = tmp_path / "logs"
    result = await cli.run(
        "logs", SLUG, run.run_id, "--out", out, "--app-id", fake.client_id,
        "--app-key-file", key_file, "--debug", *cli.api, env=cli.env(token=None),
    )  # fmt: skip
    assert result.code == 0, result
    assert len(logs_in(out)) == 12
    assert_intact(fake, logs_in(out))
    assert fake.stats.app_lookups == 1
    assert fake.stats.app_mints >= 1
    no_secret(fake, result.out + result.err)


async def test_get_as_an_app_from_the_environment(
    cli: Cli, fake: FakeGitHub, key_file: Path
) -> None:
    """``GH_JOBS_APP_ID`` and ``GH_JOBS_APP_KEY_FILE`` with ``--installation-id``: no lookup."""
    run = fake.add_run(OWNER, REPO, jobs=1)
    installation = fake.add_installation(OWNER)
    env = cli.env(token=None, GH_JOBS_APP_ID=str(fake.app_id), GH_JOBS_APP_KEY_FILE=str(key_file))
    job_id = run.latest[0]["id"]
    result = await cli.run(
        "get", SLUG, job_id, "--json", "--installation-id", installation, *cli.api, env=env
    )
    assert result.code == 0, result
    assert str(job_id) in result.out
    assert fake.stats.app_lookups == 0
    assert fake.stats.requests_per_installation[installation] == 1


@pytest.mark.parametrize("half", ["id", "key"])
async def test_one_half_of_the_app_from_an_option_the_other_from_the_environment(
    cli: Cli, fake: FakeGitHub, key_file: Path, half: str
) -> None:
    """``--app-id`` with ``$GH_JOBS_APP_KEY_FILE`` (or the other way round) is an App."""
    run = fake.add_run(OWNER, REPO, jobs=1)
    job_id = run.latest[0]["id"]
    if half == "id":
        options = ["--app-id", fake.client_id]
        env = cli.env(token=None, GH_JOBS_APP_KEY_FILE=str(key_file))
    else:
        options = ["--app-key-file", str(key_file)]
        env = cli.env(token=None, GH_JOBS_APP_ID=fake.client_id)
    result = await cli.run("get", SLUG, job_id, "--json", *options, *cli.api, env=env)
    assert result.code == 0, result
    assert str(job_id) in result.out
    assert fake.stats.app_mints == 1


@pytest.mark.parametrize(
    ("options", "env_extra", "message"),
    [
        (("--token-file", "{token}", "--app-id", "1", "--app-key-file", "{key}"), {}, "not both"),
        (("--anonymous", "--installation-id", "3"), {}, "not both"),
        ((), {"GH_JOBS_APP_ID": "1", "GH_JOBS_APP_KEY_FILE": "{key}", "GH_TOKEN": "x"}, "both"),
        (("--app-id", "1"), {}, "--app-key-file"),
        (("--app-id", "1", "--app-key-file", "{key}", "--share-token"), {}, "needs --redis"),
        (
            ("--token-file", "{token}", "--share-token", "--redis", "redis://127.0.0.1:9"),
            {},
            "give --app-id",
        ),
    ],
    ids=[
        "token-file-and-app",
        "anonymous-and-installation",
        "both-in-env",
        "no-key",
        "share-token-without-redis",
        "share-token-without-app",
    ],
)
async def test_a_token_and_an_app_together_is_a_usage_error(
    *,
    cli: Cli,
    key_file: Path,
    tmp_path: Path,
    options: tuple[str, ...],
    env_extra: dict[str, str],
    message: str,
) -> None:
    """Both kinds, or half an App: exit 2 with one line, before any request."""
    token_file = tmp_path / "token"
    token_file.write_text("ghs_x")
    fill = {"token": str(token_file), "key": str(key_file)}
    args = [item.format(**fill) for item in options]
    env = cli.env(token=None, **{k: v.format(**fill) for k, v in env_extra.items()})
    result = await cli.run("get", SLUG, "1", *args, *cli.api, env=env)
    line = result.one_line_error(2)
    assert message in line
    assert cli.fake.stats.api_requests == 0


async def test_a_bad_key_file_is_a_usage_error_that_shows_no_key(
    cli: Cli, fake: FakeGitHub, tmp_path: Path
) -> None:
    """A corrupt key: exit 2, the problem named, not one line of the key shown."""
    broken = tmp_path / "broken.pem"
    pem = fake.app_private_key_pem
    broken.write_text(pem.replace(pem.splitlines()[3], "!!!!"))
    result = await cli.run(
        "get", SLUG, "1", "--app-id", "1", "--app-key-file", broken, *cli.api,
        env=cli.env(token=None),
    )  # fmt: skip
    line = result.one_line_error(2)
    assert "private_key" in line
    no_secret(fake, result.err)
    assert fake.stats.api_requests == 0
