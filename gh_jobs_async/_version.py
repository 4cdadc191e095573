"""The installed version, read from package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gh_jobs_async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"
