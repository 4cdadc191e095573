"""Files of a harvest: safe names, atomic writes, the resume manifest, the directory lock.

A log file exists only when it is complete and verified: bytes go to a hidden
temporary file beside the destination (``.NAME.<random>.gh-jobs-part``), which
is flushed, fsynced and then renamed into place. The manifest
(``.gh-jobs-manifest.jsonl`` in the harvest directory) records each file's
size and SHA-256 *before* the rename, so every final file has an entry and a
re-run can tell a complete, intact log from anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import string
import threading
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import attrs

from .exceptions import InvalidArgumentError
from .models import Job

logger = logging.getLogger(__name__)

MANIFEST_NAME = ".gh-jobs-manifest.jsonl"
LOCK_NAME = ".gh-jobs.lock"
PART_SUFFIX = ".gh-jobs-part"
DEFAULT_NAMING = "{job_id}.log"
ID_FIELDS = frozenset({"job_id"})
JOB_FIELDS = frozenset(
    {
        "job_id",
        "run_id",
        "run_attempt",
        "name",
        "conclusion",
        "status",
        "workflow_name",
        "head_branch",
        "head_sha",
    }
)
MAX_COMPONENT = 200  # bytes of UTF-8 per path component, below every filesystem's 255
MAX_DEPTH = 8
# Separators, characters Windows forbids, C0 and C1 controls, line and paragraph
# separators, bidirectional overrides (which disguise a name) and lone surrogates
# (which cannot be encoded as a file name).
_UNSAFE_CHARS = re.compile(
    r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Only what PartFile names look like: a hidden name, 8 hex digits, the suffix.
_PART_NAME = re.compile(r"^\..+\.[0-9a-f]{8}" + re.escape(PART_SUFFIX) + "$", re.DOTALL)

Naming = str | Callable[[Job | int], "str | os.PathLike[str]"]


def template_fields(template: str) -> frozenset[str]:
    """The replacement fields of a ``naming`` format string; rejects unknown ones."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise InvalidArgumentError("naming", template, f"not a format string ({exc})") from None
    unknown = fields - JOB_FIELDS
    if unknown or "" in fields:
        raise InvalidArgumentError(
            "naming",
            template,
            f"unknown field(s) {sorted(unknown or {''})}; known: {sorted(JOB_FIELDS)}",
        )
    return frozenset(fields)


def sanitize_component(text: str) -> str:
    """Make one path component safe: no separators, control characters, ``.``/``..``, bounded.

    A leading dot becomes ``_``: a log is never a hidden file, so it can never be
    taken for the manifest, the lock or a temporary file of the harvest.
    """
    text = _UNSAFE_CHARS.sub("_", text)  # first: lone surrogates would break normalize
    text = unicodedata.normalize("NFC", text).strip()
    if set(text) == {"."}:
        text = "_" * len(text)
    elif text.startswith("."):
        text = "_" + text[1:]
    text = text or "_"
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_COMPONENT:
        digest = hashlib.sha256(encoded).hexdigest()[:12]
        stem, dot, ext = text.rpartition(".")
        ext = f".{ext}" if dot and len(ext) <= 10 else ""
        keep = MAX_COMPONENT - len(ext.encode()) - 13
        head = (stem if ext else text).encode("utf-8")[:keep].decode("utf-8", "ignore")
        text = f"{head}-{digest}{ext}"
    return text


def _field_values(item: Job | int) -> dict[str, str]:
    if isinstance(item, int):
        return {"job_id": str(item)}
    return {
        "job_id": str(item.id),
        "run_id": str(item.run_id),
        "run_attempt": str(item.run_attempt or 1),
        "name": item.name,
        "conclusion": str(item.conclusion or "none"),
        "status": str(item.status),
        "workflow_name": item.workflow_name or "",
        "head_branch": item.head_branch or "",
        "head_sha": item.head_sha,
    }


@attrs.frozen
class Namer:
    """Maps a job (or a job id) to a safe path relative to the harvest directory."""

    naming: Naming
    fields: frozenset[str]

    @classmethod
    def create(cls, naming: Naming) -> Namer:
        """Validate ``naming`` (a format string or a callable) before any request."""
        if callable(naming):
            return cls(naming=naming, fields=frozenset())
        if not isinstance(naming, str) or not naming.strip():
            raise InvalidArgumentError("naming", naming, "expected a format string or a callable")
        return cls(naming=naming, fields=template_fields(naming))

    def check(self, item: Job | int) -> None:
        """Reject a job id when the template needs fields only a Job has."""
        if isinstance(item, int) and not self.fields <= ID_FIELDS:
            raise InvalidArgumentError(
                "naming",
                self.naming,
                f"fields {sorted(self.fields - ID_FIELDS)} need Job objects, not job ids",
            )

    def relative(self, item: Job | int) -> Path:
        """The sanitised relative path for ``item``; never absolute, never with ``..``."""
        if callable(self.naming):
            raw = os.fspath(self.naming(item))
            parts = re.split(r"[/\\]+", raw)
        else:
            values = {k: sanitize_component(v) for k, v in _field_values(item).items()}
            parts = self.naming.format_map(values).split("/")
        components = [sanitize_component(part) for part in parts if part not in {"", "."}]
        if not components:
            raise InvalidArgumentError("naming", self.naming, "produced an empty file name")
        if len(components) > MAX_DEPTH:
            components = [*components[: MAX_DEPTH - 1], "_".join(components[MAX_DEPTH - 1 :])]
        return Path(*components)


def inside(root: Path, relative: Path) -> Path:
    """``root / relative``, refused through a symlinked folder or to a symlink leading out.

    Below ``root``, folders must be real folders: that is what :class:`PartFile`
    enforces again, without a race, when it creates the file.
    """
    target = root / relative
    folder = root
    for name in relative.parts[:-1]:
        folder /= name
        if folder.is_symlink():
            raise InvalidArgumentError("naming", str(relative), "goes through a symlinked folder")
    if not target.resolve().is_relative_to(root.resolve()):
        raise InvalidArgumentError("naming", str(relative), "resolves outside the directory")
    return target


@attrs.frozen
class ManifestEntry:
    """What the manifest records for one complete log."""

    job_id: int
    size: int
    sha256: str


class Manifest:
    """Size and SHA-256 of every complete log in a harvest directory, keyed by relative path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / MANIFEST_NAME
        self.entries: dict[str, ManifestEntry] = {}
        self._file: IO[str] | None = None
        self._torn = False
        self._lock = threading.Lock()  # record() runs in worker threads

    def load(self) -> None:
        """Read the manifest; a torn last line (from a crash) is ignored."""
        try:
            text = self.path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return
        # A crash mid-write leaves a last line without its newline: the next
        # entry must start on a line of its own, or it would be torn too.
        self._torn = bool(text) and not text.endswith("\n")
        for line in text.splitlines():
            try:
                data = json.loads(line)
                entry = ManifestEntry(int(data["job_id"]), int(data["size"]), str(data["sha256"]))
                self.entries[str(data["path"])] = entry
            except (ValueError, KeyError, TypeError):
                logger.debug("ignoring a torn manifest line")

    def record(self, relative: Path, entry: ManifestEntry) -> None:
        """Append (and fsync) an entry; called before the rename that publishes the file.

        Thread-safe: entries from concurrent downloads are appended one at a time.
        """
        with self._lock:
            self._record(relative, entry)

    def _record(self, relative: Path, entry: ManifestEntry) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
            if self._torn:
                self._file.write("\n")
                self._torn = False
        key = relative.as_posix()
        line = {"path": key, "job_id": entry.job_id, "size": entry.size, "sha256": entry.sha256}
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.entries[key] = entry

    def close(self) -> None:
        """Close the append handle."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def intact(self, relative: Path, target: Path) -> ManifestEntry | None:
        """The entry if ``target`` exists with the recorded size and SHA-256, else ``None``."""
        entry = self.entries.get(relative.as_posix())
        if entry is None:
            return None
        try:
            if target.is_symlink() or target.stat().st_size != entry.size:
                return None
            digest = hashlib.sha256()
            with target.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            return None
        return entry if digest.hexdigest() == entry.sha256 else None


class DirectoryLock:
    """An exclusive ``flock`` on the harvest directory: one harvest per directory at a time."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise InvalidArgumentError when another harvest holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl  # noqa: PLC0415 - POSIX only

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX: no locking
            pass
        except OSError:
            os.close(fd)
            raise InvalidArgumentError(
                "dest_dir", str(self.path.parent), "another harvest is writing to it"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def is_part_name(name: str) -> bool:
    """Whether ``name`` is the name of a :class:`PartFile` (no sanitised log name ever is)."""
    return _PART_NAME.match(name) is not None


def remove_stale_parts(root: Path) -> int:
    """Delete temporary files a killed harvest left behind (we hold the directory lock)."""
    removed = 0
    for part in root.rglob(f".*{PART_SUFFIX}"):
        if is_part_name(part.name) and part.is_file() and not part.is_symlink():
            with contextlib.suppress(OSError):
                part.unlink()
                removed += 1
    return removed


WRITE_BEHIND = 8 * 1024 * 1024
_FADVISE = getattr(os, "posix_fadvise", None)


class PartFile:
    """A temporary file beside ``target`` that hashes what is written and counts it.

    Write-behind: every :data:`WRITE_BEHIND` bytes, the kernel is told to start
    writing what came before to disk and to drop it from the page cache
    (``posix_fadvise(DONTNEED)``, where available). A harvest writes gigabytes
    that nobody reads back soon; left as dirty pages, they would crowd the page
    cache, and the fsync before the rename would wait for all of them at once.
    """

    def __init__(self, target: Path, root: Path | None = None) -> None:
        self.target = target
        self.root = root  # with a root, folders below it are never followed through symlinks
        self.path = target.with_name(f".{target.name}.{os.urandom(4).hex()}{PART_SUFFIX}")
        self._dir_fd: int | None = None
        self.size = 0
        self.reported = 0  # bytes announced to a progress hook
        self.published = False
        self._hash = hashlib.sha256()
        self._handle: IO[bytes] | None = None
        self._behind = (0, 0)  # the two last write-behind marks

    def open(self) -> None:
        """Create the parent folders and the temporary file (blocking: call off the loop).

        With a ``root`` (and POSIX ``dir_fd`` support), the folders below it are
        walked with ``O_NOFOLLOW`` and the file is created, renamed and removed
        relative to its folder's descriptor: a folder swapped for a symlink after
        :func:`inside` checked the path cannot redirect the write.
        """
        if self.root is None or not _DIR_FD:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("xb")
            return
        self._dir_fd = _open_folder(self.root, self.target.parent.relative_to(self.root))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path.name, flags, 0o666, dir_fd=self._dir_fd)
        self._handle = os.fdopen(fd, "wb")

    def write(self, *pieces: bytes) -> None:
        """Hash and write pieces, in order, opening the file first if need be (blocking).

        hashlib and the file write release the GIL: run this in a thread.
        """
        self.hash_pieces(*pieces)
        self.store(*pieces)

    def hash_pieces(self, *pieces: bytes) -> None:
        """Add pieces to the SHA-256 (blocking, for big pieces: run it in a thread).

        :meth:`hash_pieces` and :meth:`store` touch separate state: one batch may be
        hashed and stored by two threads at once, as long as the next batch
        waits for both.
        """
        for piece in pieces:
            self._hash.update(piece)

    def store(self, *pieces: bytes) -> None:
        """Write pieces to the file, opening it first if need be (blocking), without hashing."""
        if self._handle is None:
            self.open()
            assert self._handle is not None  # noqa: S101 - for mypy
        self.size += sum(map(len, pieces))
        self._handle.writelines(pieces)
        if self.size - self._behind[1] >= WRITE_BEHIND:
            self._write_behind(self._handle)

    def _write_behind(self, handle: IO[bytes]) -> None:
        """Start writeback of the bytes written so far; drop the pages already written back."""
        older, last = self._behind
        self._behind = (last, self.size)
        if _FADVISE is None:  # pragma: no cover - not POSIX
            return
        handle.flush()
        # From the mark before last: the pages that were still being written back
        # when that range was first advised are clean by now, and get dropped too.
        _FADVISE(handle.fileno(), older, self.size - older, os.POSIX_FADV_DONTNEED)

    @property
    def appendable(self) -> bool:
        """Whether more bytes may still be written: open, not finished, not discarded."""
        return self._handle is not None and not self.published

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of everything written so far."""
        return self._hash.hexdigest()

    def finish(self, *pieces: bytes) -> None:
        """Write the last pieces (if any), flush and fsync, then close (blocking)."""
        self.write(*pieces)
        assert self._handle is not None  # noqa: S101 - for mypy
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None

    def publish(self) -> None:
        """Atomically rename the finished temporary file to the target (blocking).

        A symlink at the target is replaced, never followed.
        """
        if self._dir_fd is None:
            self.path.replace(self.target)
        else:
            fd = self._dir_fd
            os.rename(self.path.name, self.target.name, src_dir_fd=fd, dst_dir_fd=fd)
        self.published = True
        self._close_dir()

    def discard(self) -> None:
        """Close and delete the temporary file; synchronous so it also runs on cancellation."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if not self.published:
            with contextlib.suppress(FileNotFoundError):
                if self._dir_fd is None:
                    self.path.unlink()
                else:
                    os.unlink(self.path.name, dir_fd=self._dir_fd)
        self._close_dir()

    def _close_dir(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None


_DIR_FD = {os.open, os.mkdir, os.rename, os.unlink} <= os.supports_dir_fd and hasattr(
    os, "O_NOFOLLOW"
)


def _open_folder(root: Path, relative: Path) -> int:
    """A descriptor of ``root / relative``, creating folders, following no symlink below root."""
    fd = os.open(root, _FOLDER_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))  # root: the caller's
    try:
        for name in relative.parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=fd)
            try:
                inner = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:  # ELOOP or ENOTDIR: a symlink (or a file) where a folder goes
                raise InvalidArgumentError(
                    "naming", str(relative), f"{name!r} is not a real folder ({exc.strerror})"
                ) from None
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


_FOLDER_FLAGS = os.O_RDONLY | sum(
    getattr(os, flag, 0) for flag in ("O_DIRECTORY", "O_CLOEXEC", "O_NOFOLLOW")
)


def check_expected_size(headers: Mapping[str, str]) -> int | None:
    """``Content-Length`` as an int, when present and sane.

    ``None`` for a compressed body: its length counts the bytes on the wire, not
    the decompressed bytes written to disk.
    """
    if headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 15 else None
