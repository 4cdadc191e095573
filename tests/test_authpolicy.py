"""The pure part of auth: JWT claims, the renewal schedule, clock skew, what a 401 means.

No event loop, no server: every function gets its clock as an argument.
"""

from __future__ import annotations

import pytest

from gh_jobs_async import _authpolicy as policy

NOW = 1_700_000_000.25

#: GitHub's 401 messages for refused JWTs (github-api.md section 9).
IAT_AHEAD = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion "
    "was issued"
)
EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
EXP_PAST = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at "
    "which the assertion expires"
)
UNDECODABLE = "A JSON web token could not be decoded"


def test_claims_backdate_iat_a_minute_and_last_ten_minutes_from_it() -> None:
    """``iat`` is now - 60 s and ``exp`` is ``iat`` + 600 s, ``iss`` a string."""
    claims = policy.jwt_claims("12345", NOW)
    assert claims.iat == int(NOW) - 60
    assert claims.exp == claims.iat + 600
    assert claims.as_dict() == {"iat": claims.iat, "exp": claims.exp, "iss": "12345"}


def test_claims_follow_the_corrected_clock() -> None:
    """With GitHub's clock 300 s behind, both claims move 300 s back."""
    plain = policy.jwt_claims("Iv23li", NOW)
    behind = policy.jwt_claims("Iv23li", NOW, offset=-300.0)
    assert (plain.iat - behind.iat, plain.exp - behind.exp) == (300, 300)


def test_claims_tolerate_a_minute_of_skew_either_way() -> None:
    """A GitHub clock up to 60 s behind still finds ``iat`` in the past; up to 60 s ahead,
    ``exp`` is still at most 10 minutes away (GitHub checks both with its own clock)."""
    claims = policy.jwt_claims("1", NOW)
    for skew in (-60, 60):
        github_now = NOW + skew
        assert claims.iat <= github_now
        assert claims.exp - github_now <= 600
        assert claims.exp > github_now


def test_a_jwt_is_reused_until_a_minute_before_it_expires() -> None:
    """No JWT: sign; 8 minutes left: reuse; under a minute left: sign again."""
    claims = policy.jwt_claims("1", NOW)
    assert policy.jwt_due(None, NOW, 0.0)
    assert not policy.jwt_due(claims, NOW, 0.0)
    assert not policy.jwt_due(claims, NOW + 470, 0.0)
    assert policy.jwt_due(claims, NOW + 500, 0.0)


@pytest.mark.parametrize(
    ("path", "jwt"),
    [
        ("/app", True),
        ("/app/installations/42/access_tokens", True),
        ("/repos/octo-org/hello-world/installation", True),
        ("/orgs/octo-org/installation", True),
        ("/users/octocat/installation", True),
        ("/repos/octo-org/hello-world/actions/jobs/1", False),
        ("/repos/octo-org/hello-world/installation/x", False),
        ("/application", False),
        ("/", False),
    ],
)
def test_jwt_endpoints(path: str, jwt: bool) -> None:
    """The JWT is for ``/app...`` and the installation lookups, nothing else."""
    assert policy.is_jwt_endpoint(path) is jwt


def test_renewal_margin_is_five_minutes_or_a_quarter_of_the_lifetime() -> None:
    """An hour's token renews 5 minutes early; a 2 s token half a second early."""
    assert policy.renewal_margin(3600) == 300
    assert policy.renewal_margin(2.0) == 0.5
    assert policy.renewal_margin(-1.0) == 0.0


def test_schedule_of_an_hour_token() -> None:
    """A token expiring in an hour is due 55 minutes after it was obtained."""
    plan = policy.schedule(NOW, NOW + 3600)
    assert plan.refresh_at == NOW + 3300
    assert not plan.due(NOW + 3299)
    assert plan.due(NOW + 3300)
    assert not plan.expired(NOW + 3599)
    assert plan.expired(NOW + 3600)


def test_schedule_converts_github_time_to_local_time() -> None:
    """``expires_at`` on a GitHub clock 300 s ahead expires 300 s earlier locally."""
    plan = policy.schedule(NOW, NOW + 300 + 3600, offset=300.0)
    assert plan.expires_at == NOW + 3600
    assert plan.refresh_at == NOW + 3300


def test_a_token_without_expiry_is_never_due() -> None:
    """A provider's token without an expiry is kept until a 401."""
    plan = policy.schedule(NOW, None)
    assert not plan.due(NOW + 10**9)
    assert not plan.expired(NOW + 10**9)


def test_expires_at_parses_githubs_format() -> None:
    """``2016-07-11T22:14:10Z`` is epoch 1468275250; garbage is None."""
    assert policy.parse_expires_at("2016-07-11T22:14:10Z") == 1468275250
    assert policy.parse_expires_at("yesterday") is None
    assert policy.parse_expires_at(None) is None


def test_offset_from_date_takes_the_middle_of_the_second() -> None:
    """``Date`` 300 s ahead gives an offset of about +300 s; no or bad Date gives None."""
    date = "Tue, 14 Nov 2023 22:18:20 GMT"  # epoch 1700000300
    assert policy.parse_http_date(date) == 1_700_000_300
    assert policy.observed_offset(date, NOW) == pytest.approx(300.25)
    assert policy.observed_offset(None, NOW) is None
    assert policy.observed_offset("not a date", NOW) is None


@pytest.mark.parametrize(
    ("message", "claim"),
    [
        (IAT_AHEAD, "iat"),
        (EXP_TOO_FAR, "exp"),
        (EXP_PAST, "exp"),
        ("Issued at claim (iat) reworded by GitHub one day", "iat"),
        (UNDECODABLE, None),
        ("Bad credentials", None),
        ("integration expired", None),
    ],
)
def test_the_refused_claim_is_recognised_by_its_name(message: str, claim: str | None) -> None:
    """The claim's name, not the whole sentence, says which one GitHub refused."""
    assert policy.refused_claim(message) == claim


def test_a_refused_claim_is_resigned_once() -> None:
    """``iat``/``exp`` refusals re-sign once; a second one, or a bad key, is final."""
    assert policy.react_to_jwt_refusal(IAT_AHEAD, resigned=False).action == "resign"
    assert policy.react_to_jwt_refusal(IAT_AHEAD, resigned=True).action == "fail"
    assert policy.react_to_jwt_refusal(UNDECODABLE, resigned=False).action == "fail"


def test_auth_refusals_are_401s_and_unreplicated_403s() -> None:
    """401 always; 403 only when it says the permissions are not replicated yet."""
    assert policy.auth_refusal(401, "Bad credentials")
    assert policy.auth_refusal(403, "the permissions of this token aren't replicated yet")
    assert not policy.auth_refusal(403, "Resource not accessible by integration")
    assert not policy.auth_refusal(404, "Not Found")


def test_a_fresh_token_is_retried_as_it_is_for_a_bounded_time() -> None:
    """Replication lag: wait 0.25, 0.5, 1, 1... s while the token is younger than 5 s."""
    pauses = []
    age, tries = 0.1, 0
    while (
        r := policy.react_to_refusal(
            age=age, expired=False, lag_tries=tries, renewed=False, renewable=True
        )
    ).action == "wait":
        pauses.append(r.pause)
        age += r.pause
        tries += 1
    assert pauses[:3] == [0.25, 0.5, 1.0]
    assert age < policy.LAG_WINDOW
    assert r.action == "renew"


def test_an_older_token_is_renewed_once_then_the_error() -> None:
    """A 401 on an old token renews once; a second one raises."""
    old = {"age": 600.0, "expired": False, "lag_tries": 0, "renewable": True}
    assert policy.react_to_refusal(renewed=False, **old).action == "renew"  # type: ignore[arg-type]
    assert policy.react_to_refusal(renewed=True, **old).action == "fail"  # type: ignore[arg-type]


def test_an_expired_fresh_token_is_not_waited_for() -> None:
    """A young token already past its expiry is renewed, not retried as lagging."""
    reaction = policy.react_to_refusal(
        age=1.0, expired=True, lag_tries=0, renewed=False, renewable=True
    )
    assert reaction.action == "renew"


def test_a_static_token_is_never_renewed() -> None:
    """Nothing to renew: the first 401 is final (no lag window for it)."""
    reaction = policy.react_to_refusal(
        age=0.0, expired=False, lag_tries=0, renewed=False, renewable=False, lag_window=0.0
    )
    assert reaction.action == "fail"


@pytest.mark.parametrize(
    ("status", "message", "final"),
    [
        (404, "Not Found", True),
        (422, "There is at least one repository that does not exist", True),
        (403, "This installation has been suspended", True),
        (403, "Resource not accessible by integration", False),
        (500, "Server Error", False),
        (401, "A JSON web token could not be decoded", False),
    ],
)
def test_mint_refusals_for_good(status: int, message: str, final: bool) -> None:
    """Unknown installation, 422 and suspension will not change by asking again."""
    assert policy.mint_refused_for_good(status, message) is final


def test_mint_backoff_doubles_and_is_capped() -> None:
    """0 after success, then 0.5, 1, 2... s, at most 30 s."""
    assert [policy.mint_backoff(n) for n in range(5)] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert policy.mint_backoff(100) == 30.0


def test_fingerprint_is_stable_short_and_not_the_secret() -> None:
    """16 hex digits of SHA-256; the same secret, the same name."""
    secret = "ghs_" + "x" * 516
    name = policy.fingerprint(secret)
    assert name == policy.fingerprint(secret)
    assert len(name) == 16
    assert name not in secret
    assert policy.fingerprint(secret + "y") != name


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (4242, 4242),
        ("Iv23li05d3d5b5d74a55", "Iv23li05d3d5b5d74a55"),
        ("has space", "<str of 9 characters>"),
        ("ghp_" + "a" * 36, "<str of 40 characters>"),
        ("github_pat_11AB", "<str of 15 characters>"),
        ("eyJhbGciOiJSUzI1NiJ9", "<str of 20 characters>"),
        ("0123456789abcdef0123456789abcdef01234567", "<str of 40 characters>"),
        ("-----BEGIN RSA PRIVATE KEY-----", "<str of 31 characters>"),
        ("x" * 65, "<str of 65 characters>"),
        ("two\nlines", "<str of 9 characters>"),
        (b"bytes", "<bytes>"),
    ],
)
def test_auth_arguments_are_shown_only_when_they_cannot_be_secrets(
    value: object, shown: object
) -> None:
    assert policy.shown_safely(value) == shown


def test_a_key_taken_for_a_path_is_shown_only_when_it_looks_like_one() -> None:
    from pathlib import Path

    hidden = "<redacted: neither PEM text nor a readable file>"
    assert policy.shown_key_path("keys/app.pem") == "keys/app.pem"
    assert policy.shown_key_path("app.pem") == "app.pem"
    assert policy.shown_key_path(Path("/etc/app")) == "/etc/app"
    assert policy.shown_key_path("MIIEowIBAAKCAQEA" * 80) == hidden  # base64, one line
    assert policy.shown_key_path("ghp_" + "a" * 36) == hidden
    assert policy.shown_key_path("MIIE\nowIB/AAKC\n") == hidden  # the body without armour


def test_a_due_token_is_still_usable_until_a_fifth_of_the_margin_before_expiry() -> None:
    hour = policy.schedule(1000.0, 1000.0 + 3600)  # due 5 min before; usable until 1 min
    assert hour.due(1000.0 + 3300)
    assert hour.still_usable(1000.0 + 3539.9)
    assert not hour.still_usable(1000.0 + 3540)
    short = policy.schedule(0.0, 2.0)  # due at 1.5 s; usable until 1.9 s
    assert short.still_usable(1.89)
    assert not short.still_usable(1.9)
    assert policy.schedule(0.0, None).still_usable(1e12)


def test_a_refusal_for_good_is_explained_by_its_status() -> None:
    assert "permissions=" in policy.refusal_hint(422)
    assert "suspended" in policy.refusal_hint(403)
    assert "uninstalled" in policy.refusal_hint(404)
