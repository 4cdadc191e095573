"""`gh-jobs --redis URL` / `GH_JOBS_REDIS_URL`: the CLI on a shared budget."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from _support import LEAKY_ENV
from workers import assert_logs_exact

from gh_jobs_async.testing import FakeGitHub

pytestmark = pytest.mark.integration


async def _cli(
    fake: FakeGitHub, *args: str, env: dict[str, str] | None = None, token: bool = True
) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    environ.update({"GH_TOKEN": fake.token} if token else {})
    environ.update(env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gh_jobs_async",
        *args,
        "--api-url",
        fake.api_url,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def _budget_keys(url: str) -> list[str]:
    raw = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        return sorted(await raw.keys("gh-jobs:{*}:*"))
    finally:
        await raw.aclose()


async def test_logs_with_redis_shares_the_budget(redis_url: str, tmp_path: Path) -> None:
    """`logs --redis URL` harvests every log through the budget on Redis."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=6)
        code, output = await _cli(
            fake, "logs", "octo-org/hello-world", str(run.run_id), "--out", str(tmp_path / "1")
        )
        assert code == 0, output
        assert await _budget_keys(redis_url) == []  # without --redis nothing goes there
        code, output = await _cli(
            fake,
            "logs",
            "octo-org/hello-world",
            str(run.run_id),
            "--out",
            str(tmp_path / str(run.run_id)),
            "--redis",
            redis_url,
        )
        assert code == 0, output
        assert_logs_exact(fake, tmp_path, [run.run_id])
        assert await _budget_keys(redis_url)


async def test_list_and_get_read_the_url_from_the_environment(redis_url: str) -> None:
    """GH_JOBS_REDIS_URL does what --redis does, for list and get."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=3)
        env = {"GH_JOBS_REDIS_URL": redis_url}
        code, output = await _cli(
            fake, "list", "octo-org/hello-world", str(run.run_id), "--json", env=env
        )
        assert code == 0, output
        assert output.count('"id"') >= 3
        code, output = await _cli(
            fake, "get", "octo-org/hello-world", str(run.job_ids[0]), "--json", env=env
        )
        assert code == 0, output
        assert await _budget_keys(redis_url)


@pytest.mark.parametrize("command", ["runs", "watch", "view"])
async def test_every_command_that_sends_requests_uses_the_budget(
    redis_url: str, command: str
) -> None:
    """`runs`, `watch` and `view` go through the Redis budget too (they once built their
    client without the store and ignored --redis)."""
    async with FakeGitHub() as fake:
        run = fake.add_run(jobs=2)
        target = {"runs": [], "watch": [str(run.run_id)], "view": [str(run.job_ids[0]), "--log"]}
        code, output = await _cli(
            fake, command, "octo-org/hello-world", *target[command], "--redis", redis_url
        )
        assert code == 0, output
        assert await _budget_keys(redis_url)


async def test_share_token_lets_every_worker_use_one_installation_token(
    redis_url: str, tmp_path: Path
) -> None:
    """`--share-token`: the second harvest finds the first one's token on Redis and mints
    none; without it each harvest mints its own."""
    async with FakeGitHub() as fake:
        fake.add_installation("octo-org")
        run = fake.add_run(jobs=4)
        key_file = tmp_path / "app.pem"
        key_file.write_text(fake.app_private_key_pem)
        app = ("--app-id", fake.client_id, "--app-key-file", str(key_file), "--redis", redis_url)

        async def harvest(name: str, *extra: str) -> None:
            code, output = await _cli(
                fake, "logs", "octo-org/hello-world", str(run.run_id),
                "--out", str(tmp_path / name / str(run.run_id)), *app, *extra, token=False,
            )  # fmt: skip
            assert code == 0, output
            assert_logs_exact(fake, tmp_path / name, [run.run_id])
            for secret in fake.app_secrets()[1:]:
                assert secret not in output

        await harvest("shared-1", "--share-token")
        await harvest("shared-2", "--share-token")
        assert fake.stats.app_mints == 1
        await harvest("own-1")
        await harvest("own-2")
        assert fake.stats.app_mints == 3
        assert sum(fake.stats.app_unauthorized.values()) == 0


async def test_a_bad_redis_url_is_a_usage_error_without_the_password() -> None:
    """A URL of the wrong scheme exits 2 naming it, with its password left out."""
    async with FakeGitHub() as fake:
        code, output = await _cli(
            fake, "get", "octo-org/hello-world", "1", "--redis", "http://u:hunter2@db:6379"
        )
    assert code == 2
    assert "http://db:6379" in output
    assert "hunter2" not in output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@db:6379/0?socket_timeout=abc", "redis://db:6379/0"),
        ("redis://:hunter2@db:6379/abc", "redis://db:6379/abc"),
    ],
)
async def test_a_bad_redis_url_query_or_db_is_a_usage_error(url: str, shown: str) -> None:
    """A query value redis-py refuses, or a db path that is no number: exit 2 naming the URL
    without its password, no traceback."""
    async with FakeGitHub() as fake:
        code, output = await _cli(fake, "get", "octo-org/hello-world", "1", "--redis", url)
    assert code == 2, output
    assert shown in output
    assert "hunter2" not in output
    assert "Traceback" not in output
