"""Benchmark: decode one 100-job page (8 steps a job, GitHub's job schema) several ways.

Prints figures, asserts nothing. The page comes from the fake GitHub's own job generator
(``gh_jobs_async.testing``), every job with 8 steps, about 226 KB. On the same bytes, in
one process, round after round (each round times every contender once, in turn, so that a
busy machine slows them alike):

* ``json.loads`` alone, and ``orjson.loads`` alone when orjson is installed;
* ``decode_jobs_page``, the production decoder (orjson when installed), and the same
  without orjson;
* the detailed converter (``converter=`` the lenient one that names JSON paths, which was
  the production decoder before the fast one);
* githubkit's validation of the same page into its ``Job`` models (API version
  2022-11-28, ``TypeAdapter(...).validate_json`` as githubkit's ``Response.parsed_data``
  does, and with the adapter built once), when githubkit and its 2022-11-28 schemas are
  installed in this environment. githubkit is not a dependency: install it to compare.

For each: the median, fastest and slowest milliseconds per page over the rounds, and the
median of the per-round ratios to githubkit and to ``json.loads``. Goals: ours at most
1.0x githubkit's time and at most 2.5x ``json.loads`` alone.

    .venv/bin/python benchmarks/bench_decode.py [--rounds 15] [--number 20]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime

from gh_jobs_async import models
from gh_jobs_async.models import decode_jobs_page
from gh_jobs_async.testing import _jobgen

try:
    import orjson
except ImportError:
    orjson = None
try:  # githubkit is not a dependency: install it (and its 2022-11-28 schemas) to compare
    from pydantic import TypeAdapter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from githubkit_schemas.v2022_11_28 import models as githubkit_models
        except ImportError:  # githubkit before the schemas moved to their own packages
            from githubkit.versions.v2022_11_28 import models as githubkit_models
except ImportError:
    TypeAdapter = githubkit_models = None

JOBS = 100
STEPS = 8


class _EightSteps(random.Random):
    """The generator's randomness, except that every job draws ``STEPS`` steps."""

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if (start, stop) == (3, 9):  # _jobgen._steps: randrange(3, 9) steps
            return STEPS
        return super().randrange(start, stop, step)


def page_body() -> bytes:
    """One list-jobs page of ``JOBS`` jobs, ``STEPS`` steps each, from the fake's generator."""
    blueprint = _jobgen.JobBlueprint(
        jobs=JOBS,
        log_size=10,
        conclusions=("success",) * 8 + ("failure", "timed_out"),
        names=None,
        statuses=None,
        workflow_name="CI",
        head_branch="main",
    )
    jobs, _ = _jobgen.build_attempt(
        blueprint,
        api_url="https://api.github.com",
        html_origin="https://github.com",
        owner="octo-org",
        repo="hello-world",
        run_id=29679449,
        attempt=1,
        first_job_id=399444496,
        seed=1,
    )
    for index, job in enumerate(jobs):
        started = datetime.fromisoformat(job["started_at"])
        completed = datetime.fromisoformat(job["completed_at"])
        job["steps"] = _jobgen._steps(
            _EightSteps(index), job["status"], job["conclusion"], started, completed - started
        )
    return json.dumps({"total_count": len(jobs), "jobs": jobs}).encode()


def _without_orjson(body: bytes) -> object:
    saved, models._orjson_loads = models._orjson_loads, None
    try:
        return decode_jobs_page(body)
    finally:
        models._orjson_loads = saved


def contenders(body: bytes) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """What to time on ``body``, by name, and notes about what is missing."""
    notes: list[str] = []
    timed: dict[str, Callable[[], object]] = {"json.loads alone": lambda: json.loads(body)}
    if orjson is not None:
        timed["orjson.loads alone"] = lambda: orjson.loads(body)
    else:
        notes.append("orjson is not installed: decode_jobs_page uses json (pip install orjson)")
    timed["decode_jobs_page (production)"] = lambda: decode_jobs_page(body)
    if models._orjson_loads is not None:
        timed["decode_jobs_page without orjson"] = lambda: _without_orjson(body)
    detailed = models._CONVERTER
    timed["detailed converter (before)"] = lambda: decode_jobs_page(body, converter=detailed)
    timed.update(_githubkit(body, notes))
    return timed, notes


def _githubkit(body: bytes, notes: list[str]) -> dict[str, Callable[[], object]]:
    if githubkit_models is None or TypeAdapter is None:
        notes.append(
            "githubkit is not installed here: no comparison "
            "(pip install githubkit githubkit-schemas-2022-11-28 to compare)"
        )
        return {}
    page = githubkit_models.ReposOwnerRepoActionsRunsRunIdJobsGetResponse200
    adapter = TypeAdapter(page)
    parsed = adapter.validate_json(body)
    assert isinstance(parsed.jobs[0], githubkit_models.Job)
    assert len(parsed.jobs[0].steps) == STEPS
    notes.append(
        f"githubkit {importlib.metadata.version('githubkit')}: {page.__name__} "
        "(jobs: list[Job]), TypeAdapter.validate_json"
    )
    return {
        "githubkit (adapter per call)": lambda: TypeAdapter(page).validate_json(body),
        "githubkit (adapter once)": lambda: adapter.validate_json(body),
    }


def measure(
    timed: dict[str, Callable[[], object]], rounds: int, number: int, *, gc_off: bool
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one figure per round, contenders interleaved."""
    for call in timed.values():  # warm-up: generated functions, caches, adapters
        call()
    figures: dict[str, list[float]] = {name: [] for name in timed}
    if gc_off:
        gc.disable()
    try:
        for _ in range(rounds):
            for name, call in timed.items():
                started = time.perf_counter()
                for _ in range(number):
                    call()
                figures[name].append((time.perf_counter() - started) / number)
    finally:
        gc.enable()
    return figures


def _ratio(figures: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(a / b for a, b in zip(figures[name], figures[base], strict=True))


def report(figures: dict[str, list[float]], rounds: int, number: int, *, gc_off: bool) -> None:
    """Print the table and the goals."""
    gk = "githubkit (adapter once)" if "githubkit (adapter once)" in figures else None
    head = f"{'decoder':<34}{'median ms':>10}{'min':>8}{'max':>8}{'/ json':>8}"
    print(head + (f"{'/ githubkit':>13}" if gk else ""))
    for name, seconds in figures.items():
        ms = [s * 1000 for s in seconds]
        line = f"{name:<34}{statistics.median(ms):>10.2f}{min(ms):>8.2f}{max(ms):>8.2f}"
        line += f"{_ratio(figures, name, 'json.loads alone'):>7.2f}x"
        print(line + (f"{_ratio(figures, name, gk):>12.2f}x" if gk else ""))
    ours = "decode_jobs_page (production)"
    print(
        f"\ngoals for {ours}: <= 2.5x json.loads alone "
        f"(now {_ratio(figures, ours, 'json.loads alone'):.2f}x)"
        + (f", <= 1.0x githubkit (now {_ratio(figures, ours, gk):.2f}x)" if gk else "")
    )
    load = os.getloadavg()
    print(
        f"{rounds} rounds of {number} calls each, garbage collector {'off' if gc_off else 'on'}; "
        "ratios are medians of per-round ratios; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
    )


def main() -> None:
    """Parse options, build the page and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--number", type=int, default=20, help="calls per round (default 20)")
    parser.add_argument(
        "--gc-off", action="store_true", help="time with the garbage collector off, as timeit"
    )
    args = parser.parse_args()
    body = page_body()
    page = decode_jobs_page(body)
    steps = sum(len(job.steps) for job in page.jobs)
    timed, notes = contenders(body)
    print(
        f"one page: {len(body):,} bytes, {len(page.jobs)} jobs, {steps} steps; "
        f"Python {platform.python_version()} on {sys.platform}"
    )
    for note in notes:
        print(f"  {note}")
    print()
    figures = measure(timed, args.rounds, args.number, gc_off=args.gc_off)
    report(figures, args.rounds, args.number, gc_off=args.gc_off)


if __name__ == "__main__":
    main()
