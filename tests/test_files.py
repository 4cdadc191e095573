"""Files of a harvest, without a server: safe names, confinement, the manifest, atomic writes."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gh_jobs_async import InvalidArgumentError, Job
from gh_jobs_async._files import (
    LOCK_NAME,
    MANIFEST_NAME,
    MAX_COMPONENT,
    MAX_DEPTH,
    WRITE_BEHIND,
    DirectoryLock,
    Manifest,
    ManifestEntry,
    Namer,
    PartFile,
    check_expected_size,
    inside,
    is_part_name,
    remove_stale_parts,
    sanitize_component,
    template_fields,
)

HOSTILE = [
    "../../etc/passwd",
    "a/b\x00c",
    "..",
    ".",
    "...",
    "",
    "   ",
    "C:\\Windows\\system32",
    "line\nbreak\r\x1b[31mred",
    "nel\x85del\x7f",
    "rtl\u202egnp.exe",
    "para\u2029sep",
    "lone \ud800 surrogate",
    MANIFEST_NAME,
    LOCK_NAME,
    ".hidden",
    "x" * 1000,
    "é" * 400,
]


def _job(**changes: Any) -> Job:
    fields: dict[str, Any] = {
        "id": 20_000_000_001,
        "run_id": 7_000_000_001,
        "run_url": "https://api.github.com/repos/o/r/actions/runs/7000000001",
        "node_id": "CR_kwDO",
        "head_sha": "f" * 40,
        "url": "https://api.github.com/repos/o/r/actions/jobs/20000000001",
        "html_url": None,
        "status": "completed",
        "conclusion": "failure",
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "started_at": datetime(2024, 1, 1, tzinfo=UTC),
        "completed_at": None,
        "name": "build (ubuntu-latest, 3.12)",
        "check_run_url": "https://api.github.com/repos/o/r/check-runs/1",
        "labels": ("ubuntu-latest",),
        "runner_id": None,
        "runner_name": None,
        "runner_group_id": None,
        "runner_group_name": None,
        "workflow_name": "CI",
        "head_branch": "feature/x",
        "run_attempt": 2,
    }
    fields.update(changes)
    return Job(**fields)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("text", HOSTILE)
def test_sanitized_component_is_one_safe_visible_name(text: str) -> None:
    """Any text becomes one non-hidden path component: no separator, control or dot name."""
    name = sanitize_component(text)
    assert name
    assert name not in {".", ".."}
    assert not name.startswith(".")
    assert "/" not in name
    assert "\\" not in name
    assert not any(unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"} for ch in name)
    assert not any(0x202A <= ord(ch) <= 0x202E for ch in name)
    assert len(name.encode("utf-8")) <= MAX_COMPONENT
    assert not is_part_name(name)


def test_sanitize_keeps_ordinary_names() -> None:
    """A reasonable job name passes unchanged (apart from NFC normalisation)."""
    assert sanitize_component("build (ubuntu-latest, 3.12)") == "build (ubuntu-latest, 3.12)"
    assert sanitize_component("e\u0301t\u00e9 🚀") == "\u00e9t\u00e9 🚀"


def test_long_names_keep_extension_and_stay_distinct() -> None:
    """Truncation keeps the extension and a digest, so two long names never collide."""
    one = sanitize_component("a" * 300 + "1.log")
    two = sanitize_component("a" * 300 + "2.log")
    assert one != two
    assert one.endswith(".log")
    assert two.endswith(".log")
    assert len(one.encode()) <= MAX_COMPONENT


def test_long_multibyte_name_is_cut_on_a_character_boundary() -> None:
    """Cutting a long name never leaves half a UTF-8 character."""
    name = sanitize_component("日本語" * 200)
    assert len(name.encode("utf-8")) <= MAX_COMPONENT
    name.encode("utf-8").decode("utf-8")  # raises if a character was split


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("{job_id}.log", {"job_id"}),
        ("{run_id}/{job_id}-{name}.log", {"run_id", "job_id", "name"}),
        ("static.log", set()),
    ],
)
def test_template_fields(template: str, fields: set[str]) -> None:
    """The replacement fields of a naming template are found."""
    assert template_fields(template) == fields


@pytest.mark.parametrize("template", ["{nope}.log", "{}.log", "{0}.log", "{name.upper}", "{"])
def test_bad_templates_are_rejected(template: str) -> None:
    """Unknown, positional, attribute and malformed fields raise InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError):
        template_fields(template)


@pytest.mark.parametrize("naming", ["", "   ", 42, None])
def test_namer_rejects_what_is_neither_template_nor_callable(naming: Any) -> None:
    """``naming`` must be a non-empty format string or a callable."""
    with pytest.raises(InvalidArgumentError):
        Namer.create(naming)


def test_namer_default_for_ids_and_jobs() -> None:
    """``{job_id}.log`` works for a job id and for a Job."""
    namer = Namer.create("{job_id}.log")
    namer.check(5)
    assert namer.relative(5) == Path("5.log")
    assert namer.relative(_job()) == Path("20000000001.log")


def test_namer_rejects_ids_when_template_needs_a_job() -> None:
    """A template using Job fields refuses a bare id, and accepts a Job."""
    namer = Namer.create("{run_id}/{job_id}-{name}.log")
    with pytest.raises(InvalidArgumentError, match="need Job objects"):
        namer.check(5)
    namer.check(_job())


def test_namer_fills_job_fields_and_sanitises_each() -> None:
    """Field values are sanitised one by one: a slash in a value never makes a folder."""
    namer = Namer.create("{run_id}/{head_branch}/{run_attempt}-{conclusion}-{name}.log")
    job = _job(name="../../etc/passwd")
    assert namer.relative(job) == Path("7000000001", "feature_x", "2-failure-_._.._etc_passwd.log")


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        ("../../evil.log", Path("__", "__", "evil.log")),
        ("/etc/passwd", Path("etc", "passwd")),
        ("a\\..\\b.log", Path("a", "__", "b.log")),
        ("./x/./y.log", Path("x", "y.log")),
    ],
)
def test_callable_naming_is_confined(produced: str, expected: Path) -> None:
    """What a naming callable returns is split and sanitised: never absolute, never ``..``."""
    namer = Namer.create(lambda _item: produced)
    relative = namer.relative(1)
    assert relative == expected
    assert not relative.is_absolute()


def test_empty_name_from_a_callable_is_rejected() -> None:
    """A callable that produces nothing usable raises InvalidArgumentError."""
    with pytest.raises(InvalidArgumentError, match="empty"):
        Namer.create(lambda _item: "/./").relative(1)


def test_deep_names_are_flattened() -> None:
    """More than MAX_DEPTH components are folded into the last one."""
    relative = Namer.create(lambda _item: "/".join("abcdefghijkl")).relative(1)
    assert len(relative.parts) == MAX_DEPTH
    assert relative.parts[-1] == "h_i_j_k_l"


# --------------------------------------------------------------------------- confinement


def test_inside_accepts_plain_relative_paths(tmp_path: Path) -> None:
    """A path without links stays where it is."""
    assert inside(tmp_path, Path("a", "b.log")) == tmp_path / "a" / "b.log"


def test_inside_refuses_a_symlinked_folder_leading_out(tmp_path: Path) -> None:
    """A folder symlink pointing outside the root is refused."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "run").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidArgumentError, match="symlinked folder"):
        inside(root, Path("run", "1.log"))


def test_inside_refuses_a_symlinked_file_leading_out(tmp_path: Path) -> None:
    """A file symlink pointing outside the root is refused."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "1.log").symlink_to(tmp_path / "secret")
    with pytest.raises(InvalidArgumentError):
        inside(root, Path("1.log"))


def test_inside_refuses_any_symlinked_folder(tmp_path: Path) -> None:
    """Below the root, folders must be real: even a symlink to a folder inside is refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(InvalidArgumentError, match="symlinked folder"):
        inside(tmp_path, Path("alias", "1.log"))
    assert inside(tmp_path, Path("real", "1.log")) == tmp_path / "real" / "1.log"


def test_inside_accepts_a_root_that_is_a_symlink(tmp_path: Path) -> None:
    """The root itself is the caller's choice and may be a symlink."""
    (tmp_path / "real").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "real", target_is_directory=True)
    assert inside(tmp_path / "root", Path("a", "1.log")) == tmp_path / "root" / "a" / "1.log"


def test_part_file_with_root_refuses_a_folder_swapped_for_a_symlink(tmp_path: Path) -> None:
    """Created relative to its folder, without following symlinks: a late swap is refused."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    target = inside(root, Path("run", "1.log"))  # checked while "run" does not exist yet
    (root / "run").symlink_to(outside, target_is_directory=True)  # then swapped in
    part = PartFile(target, root)
    with pytest.raises(InvalidArgumentError, match="not a real folder"):
        part.open()
    part.discard()
    assert list(outside.iterdir()) == []


def test_part_file_with_root_creates_folders_and_replaces_a_final_symlink(tmp_path: Path) -> None:
    """With a root, folders are created; a symlink at the target is replaced, not followed."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "1.log").symlink_to(outside)
    for target in (root / "a" / "b" / "c" / "2.log", root / "a" / "1.log"):
        part = PartFile(target, root)
        part.finish(b"log\n")
        part.publish()
        part.discard()
        assert target.read_bytes() == b"log\n"
        assert not target.is_symlink()
    assert outside.read_bytes() == b"keep"


def test_part_file_with_root_discard_removes_it(tmp_path: Path) -> None:
    """An unfinished PartFile under a root is removed through its folder's descriptor."""
    part = PartFile(tmp_path / "d" / "1.log", tmp_path)
    part.write(b"partial")
    part.discard()
    assert [p.name for p in (tmp_path / "d").iterdir()] == []


# --------------------------------------------------------------------------- manifest


def _entry(job_id: int, data: bytes) -> ManifestEntry:
    return ManifestEntry(job_id=job_id, size=len(data), sha256=_sha(data))


def test_manifest_round_trip(tmp_path: Path) -> None:
    """Recorded entries are read back by a new Manifest; the newest entry for a path wins."""
    manifest = Manifest(tmp_path)
    manifest.record(Path("a", "1.log"), _entry(1, b"one"))
    manifest.record(Path("2.log"), _entry(2, b"two"))
    manifest.record(Path("2.log"), _entry(2, b"two, again"))
    manifest.close()
    again = Manifest(tmp_path)
    again.load()
    assert again.entries == {"a/1.log": _entry(1, b"one"), "2.log": _entry(2, b"two, again")}


def test_manifest_ignores_torn_and_garbage_lines(tmp_path: Path) -> None:
    """Lines that are not complete entries (a crash mid-write, garbage) are skipped."""
    good = json.dumps({"path": "1.log", "job_id": 1, "size": 3, "sha256": _sha(b"one")}) + "\n"
    (tmp_path / MANIFEST_NAME).write_text(
        good + "not json\n[1,2]\n{}\n" + '{"path":"2.log","job_id":2,"si', "utf-8"
    )
    manifest = Manifest(tmp_path)
    manifest.load()
    assert manifest.entries == {"1.log": _entry(1, b"one")}


def test_manifest_entry_after_a_torn_line_survives(tmp_path: Path) -> None:
    """An entry appended after a torn last line starts on its own line and is read back."""
    (tmp_path / MANIFEST_NAME).write_text('{"path":"2.log","job_id":2,"si', "utf-8")
    manifest = Manifest(tmp_path)
    manifest.load()
    manifest.record(Path("3.log"), _entry(3, b"three"))
    manifest.close()
    again = Manifest(tmp_path)
    again.load()
    assert again.entries == {"3.log": _entry(3, b"three")}


def test_intact_checks_size_and_hash(tmp_path: Path) -> None:
    """``intact`` trusts a file only when it exists with the recorded size and SHA-256."""
    manifest = Manifest(tmp_path)
    target = tmp_path / "1.log"
    target.write_bytes(b"hello")
    manifest.record(Path("1.log"), _entry(1, b"hello"))
    assert manifest.intact(Path("1.log"), target) == _entry(1, b"hello")
    target.write_bytes(b"jello")  # same size, other bytes
    assert manifest.intact(Path("1.log"), target) is None
    target.write_bytes(b"hell")
    assert manifest.intact(Path("1.log"), target) is None
    target.unlink()
    assert manifest.intact(Path("1.log"), target) is None
    assert manifest.intact(Path("unknown.log"), tmp_path / "unknown.log") is None
    manifest.close()


def test_intact_never_trusts_a_symlink(tmp_path: Path) -> None:
    """A symlink at the log's place is not taken for the log, even with the right bytes."""
    manifest = Manifest(tmp_path)
    (tmp_path / "real").write_bytes(b"hello")
    (tmp_path / "1.log").symlink_to(tmp_path / "real")
    manifest.record(Path("1.log"), _entry(1, b"hello"))
    assert manifest.intact(Path("1.log"), tmp_path / "1.log") is None
    manifest.close()


# --------------------------------------------------------------------------- temporary files


def test_part_file_hashes_counts_and_publishes(tmp_path: Path) -> None:
    """A PartFile is hidden beside its target until publish renames it into place."""
    target = tmp_path / "deep" / "er" / "1.log"
    part = PartFile(target)
    part.open()
    assert part.path.parent == target.parent
    assert is_part_name(part.path.name)
    for piece in (b"\xef\xbb\xbfhello ", b"", b"world\n"):
        part.write(piece)
    part.finish()
    assert not target.exists()
    part.publish()
    assert target.read_bytes() == b"\xef\xbb\xbfhello world\n"
    assert part.size == target.stat().st_size
    assert part.sha256 == _sha(target.read_bytes())
    assert part.published
    part.discard()  # after publish: nothing to remove, the log stays
    assert target.exists()
    assert [p.name for p in target.parent.iterdir()] == ["1.log"]


def test_part_file_write_behind_keeps_every_byte(tmp_path: Path) -> None:
    """Past the write-behind mark (pages dropped from the cache), the file is still exact."""
    pieces = [bytes([n]) * 1_000_003 for n in range(20)]  # about 2.4 write-behind windows
    part = PartFile(tmp_path / "big.log")
    for first in range(0, len(pieces), 3):
        part.write(*pieces[first : first + 3])
    part.finish()
    part.publish()
    data = b"".join(pieces)
    assert part.size == len(data) > 2 * WRITE_BEHIND
    assert part.sha256 == _sha(data) == _sha((tmp_path / "big.log").read_bytes())


def test_part_file_discard_removes_it(tmp_path: Path) -> None:
    """Discarding an unfinished PartFile closes and deletes it."""
    part = PartFile(tmp_path / "1.log")
    part.open()
    part.write(b"partial")
    part.discard()
    assert list(tmp_path.iterdir()) == []


def test_part_file_never_reuses_an_existing_file(tmp_path: Path) -> None:
    """Opening is exclusive: an existing file with the same name is not overwritten."""
    part = PartFile(tmp_path / "1.log")
    part.path.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        part.open()
    assert part.path.read_bytes() == b"someone else's"


def test_remove_stale_parts_only_removes_part_files(tmp_path: Path) -> None:
    """Leftover temporary files are removed, recursively; logs and other files stay."""
    (tmp_path / "run").mkdir()
    stale = [
        tmp_path / ".1.log.0123abcd.gh-jobs-part",
        tmp_path / "run" / ".2.log.deadbeef.gh-jobs-part",
    ]
    kept = [
        tmp_path / "x.gh-jobs-part",  # what sanitising a job name "x.gh-jobs-part" gives
        tmp_path / "run" / "2.log",
        tmp_path / ".notes.gh-jobs-part",
    ]
    for path in stale + kept:
        path.write_bytes(b"x")
    assert remove_stale_parts(tmp_path) == len(stale)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)


def test_remove_stale_parts_does_not_follow_links(tmp_path: Path) -> None:
    """A part-named symlink is left alone, and so is what it points to."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")
    root = tmp_path / "root"
    root.mkdir()
    (root / ".1.log.0123abcd.gh-jobs-part").symlink_to(outside)
    assert remove_stale_parts(root) == 0
    assert outside.read_bytes() == b"precious"


def test_directory_lock_is_exclusive(tmp_path: Path) -> None:
    """A second lock on the same directory is refused until the first is released."""
    first, second = DirectoryLock(tmp_path), DirectoryLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(InvalidArgumentError, match="another harvest"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-length": "1234"}, 1234),
        ({"content-length": " 0 "}, 0),
        ({}, None),
        ({"content-length": "-1"}, None),
        ({"content-length": "12a"}, None),
        ({"content-length": "9" * 30}, None),
        ({"content-length": "١٢"}, None),  # Arabic-Indic digits: isdigit() but not ASCII
        ({"content-length": "1234", "content-encoding": "gzip"}, None),
        ({"content-length": "1234", "content-encoding": "identity"}, 1234),
    ],
)
def test_expected_size(headers: dict[str, str], expected: int | None) -> None:
    """Content-Length is trusted when sane and when it counts the decoded bytes."""
    assert check_expected_size(headers) == expected
