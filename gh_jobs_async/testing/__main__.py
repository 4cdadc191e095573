"""``python -m gh_jobs_async.testing``: run the fake GitHub in the foreground."""

from gh_jobs_async.testing._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
