"""Fixtures of the conformance suite: Prism (found or installed once) and its two mocks.

See ``conformance_prism`` for how Prism is found, installed and started, and
``conformance_support`` for the derived documents it serves.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_prism import PrismServer, find_or_install_prism, start_prism
from conformance_support import SPECS

# GitHub's description lives in ../shared/openapi beside the checkout (CI has it). Without
# it, a checkout on its own skips this suite rather than failing to collect it; CI never does.
if not all(path.is_file() for path in SPECS.values()) and not os.environ.get("CI"):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(name="prism_executable", scope="session")
def fixture_prism_executable() -> str:
    """Path of a Prism 5 executable; installs it into ``.cache/prism`` when missing."""
    return find_or_install_prism()


@pytest.fixture(name="prism_folder", scope="session")
def fixture_prism_folder() -> Iterator[Path]:
    """A temporary folder for the derived documents and Prism's logs."""
    with tempfile.TemporaryDirectory(prefix="gh-jobs-prism-") as folder:
        yield Path(folder)


@pytest.fixture(name="prism_static", scope="session")
def fixture_prism_static(prism_executable: str, prism_folder: Path) -> Iterator[PrismServer]:
    """Prism with ``--errors`` (static examples; invalid requests get 422)."""
    server = start_prism(prism_executable, prism_folder, mode="static")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="prism_dynamic", scope="session")
def fixture_prism_dynamic(prism_executable: str, prism_folder: Path) -> Iterator[PrismServer]:
    """Prism with ``--dynamic`` (every answer generated from the schemas)."""
    server = start_prism(prism_executable, prism_folder, mode="dynamic")
    try:
        yield server
    finally:
        server.stop()
