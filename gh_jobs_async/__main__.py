"""``python -m gh_jobs_async``: the ``gh-jobs`` command."""

from gh_jobs_async.cli import main

raise SystemExit(main())
