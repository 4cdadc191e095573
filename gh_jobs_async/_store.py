"""Pure decisions of a shared rate-limit store: no I/O, no await.

Key names, a store's address without credentials, validation of the store's
options, the reading of a script's answer and the schedule of retries while the
store is unreachable. :mod:`gh_jobs_async.redis` does the I/O.
"""

from __future__ import annotations

import math
import random
import re
from urllib.parse import parse_qs, urlsplit

import attrs

from .exceptions import InvalidArgumentError

#: Schemes redis-py's ``from_url`` understands and that we accept.
SCHEMES = ("redis", "rediss", "unix")

#: A name part of a key: no hash-tag braces, no whitespace, no colon-less surprises.
_NAME_RE = re.compile(r"[A-Za-z0-9._@/+=-][A-Za-z0-9._@/+=:-]{0,199}")

#: The path of a redis:// or rediss:// URL: nothing, or a database number.
_DB_PATH_RE = re.compile(r"(/[0-9]+)?/?")

#: Seconds an idle budget's keys outlive its last use (pause and primary reset on top).
IDLE_TTL = 900.0


@attrs.frozen
class Keys:
    """The keys of one budget, all in one Redis Cluster slot thanks to the ``{budget}`` tag."""

    state: str
    leases: str
    done: str

    @classmethod
    def of(cls, namespace: str, budget: str) -> Keys:
        """``<namespace>:{<budget>}:state`` and its siblings."""
        prefix = f"{namespace}:{{{budget}}}"
        return cls(state=f"{prefix}:state", leases=f"{prefix}:leases", done=f"{prefix}:done")

    def all(self) -> list[str]:
        """KEYS for a script, in the order ``common.lua`` reads them."""
        return [self.state, self.leases, self.done]


@attrs.frozen
class TokenKeys:
    """The keys of one shared installation token: the token (a hash) and its mint lock,
    in one Redis Cluster slot thanks to the ``{<share key>}`` tag."""

    token: str
    lock: str

    @classmethod
    def of(cls, namespace: str, share_key: str) -> TokenKeys:
        """``<namespace>:{<share key>}:token`` and ``...:token-lock``."""
        prefix = f"{namespace}:{{{share_key}}}"
        return cls(token=f"{prefix}:token", lock=f"{prefix}:token-lock")


def milliseconds(seconds: float) -> int:
    """A TTL in whole milliseconds, at least 1 (Redis refuses 0)."""
    return max(1, math.ceil(seconds * 1000))


def check_name(what: str, value: object) -> str:
    """A namespace or budget name that is safe inside a key and its hash tag."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidArgumentError(
            what, value, "expected 1-200 characters from A-Z a-z 0-9 . _ @ / + = - :"
        )
    return value


def check_seconds(what: str, value: object, *, minimum: float) -> float:
    """A finite number of seconds at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(what, value, f"expected seconds >= {minimum:g}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < minimum:
        raise InvalidArgumentError(what, value, f"expected seconds >= {minimum:g}")
    return seconds


def safe_address(url: str) -> str:
    """``url`` without user, password or query: fit for a message or a log line."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str) -> str:
    """A Redis URL we accept; the error shows it without credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidArgumentError("url", "<redacted>", "not a valid URL") from None
    if parts.scheme not in SCHEMES:
        raise InvalidArgumentError(
            "url", safe_address(url), "expected a redis://, rediss:// or unix:// URL"
        )
    if parts.scheme == "unix" and not parts.path:
        raise InvalidArgumentError("url", safe_address(url), "a unix:// URL needs a socket path")
    if parts.scheme != "unix" and not _DB_PATH_RE.fullmatch(parts.path):
        # redis-py would silently use database 0 for redis://host/abc
        raise InvalidArgumentError(
            "url", safe_address(url), "the path must be a database number, such as /0"
        )
    return url


def refused_url(url: str, exc: Exception) -> InvalidArgumentError:
    """The error for a URL redis-py refused (a bad query value): shown without credentials.

    The address drops the query and the password; the password is cut out of redis-py's
    message too, should a later version quote the value it refused.
    """
    parts = urlsplit(url)
    lines = str(exc).splitlines() or [type(exc).__name__]
    reason = lines[0][:200]
    for secret in {parts.password, *parse_qs(parts.query).get("password", [])} - {None, ""}:
        reason = reason.replace(str(secret), "<redacted>")
    return InvalidArgumentError("url", safe_address(url), f"redis-py refused it: {reason}")


def address_of(kwargs: dict[str, object], *, tls: bool = False) -> str:
    """The address of a redis-py connection from its ``connection_kwargs`` (``rediss://``
    when its connections use TLS), never its credentials."""
    path = kwargs.get("path")
    if isinstance(path, str) and path:
        return f"unix://{path}"
    host = kwargs.get("host", "localhost")
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{host}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


@attrs.frozen
class Reply:
    """What a script decided and the budget's shared state as it stood then.

    ``reason`` is ``ok`` (granted, or done), ``pause`` (a secondary pause runs for
    ``wait`` s), ``primary`` (spent until ``primary_reset``), ``busy`` (every slot
    is taken) or ``window`` (the window is full for ``wait`` s).
    """

    reason: str
    wait: float
    limit: int
    generation: int
    strikes: int
    pause_left: float
    primary_reset: float  # epoch seconds; 0: not spent
    in_flight: int
    granted: int = 0  # acquire: how many of the asked-for leases were granted

    @classmethod
    def parse(cls, raw: object) -> Reply:
        """Read the list every script returns (see ``common.lua``)."""
        if not isinstance(raw, list | tuple) or len(raw) != 9:
            raise ValueError(f"unexpected script reply {raw!r:.200}")
        text = [item.decode() if isinstance(item, bytes) else str(item) for item in raw]
        return cls(
            reason=text[0],
            wait=float(text[1]),
            limit=int(text[2]),
            generation=int(text[3]),
            strikes=int(text[4]),
            pause_left=float(text[5]),
            primary_reset=float(text[6]),
            in_flight=int(text[7]),
            granted=int(text[8]),
        )


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds before retrying an unreachable store: full jitter, 0.05 s doubling up to 1 s."""
    cap = min(1.0, 0.05 * 2**attempt)
    return (rng or random).uniform(cap / 2, cap)


def busy_poll(limit: int) -> float:
    """Seconds between two asks for a slot when all are taken elsewhere (shorter for more)."""
    return max(0.005, min(0.05, 0.2 / max(1, limit)))
