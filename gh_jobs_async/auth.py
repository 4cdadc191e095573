"""The auth kinds a :class:`~gh_jobs_async.Client` can hold (``Client(auth=...)``).

* :class:`TokenAuth`: a fixed token; ``Client(token="...")`` is its shorthand.
* :class:`ProviderAuth`: an async callable you write, returning a token (or a
  :class:`ProvidedToken` with its expiry); called again before that expiry, or after a 401.
* :class:`AppAuth`: a GitHub App (``pip install 'gh_jobs_async[app]'``); its
  :meth:`AppAuth.installation` gives an :class:`InstallationAuth`, whose tokens are minted
  and renewed by themselves while the client keeps one rate-limit budget.

>>> app = AppAuth("Iv23liExample", Path("app.pem"))           # doctest: +SKIP
>>> async with Client(auth=app.installation(owner="octo-org", repo="hello-world")) as gh:
...     ...                                                       # doctest: +SKIP
"""

from ._appauth import AppAuth, InstallationAuth
from ._auth import Auth, Credential, ProvidedToken, Provider, ProviderAuth, TokenAuth

__all__ = [
    "AppAuth",
    "Auth",
    "Credential",
    "InstallationAuth",
    "ProvidedToken",
    "Provider",
    "ProviderAuth",
    "TokenAuth",
]
