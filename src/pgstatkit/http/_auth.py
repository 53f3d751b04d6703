"""Authentication of the admin routes: :func:`bearer_token`."""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["TOKEN_ENV", "bearer_token"]

TOKEN_ENV = "PGSTATKIT_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
"""Environment variable :func:`bearer_token` reads when no token is passed."""


def bearer_token(
    token: str | None = None, *, env_var: str = TOKEN_ENV
) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits only ``Authorization: Bearer <token>``.

    ``token`` defaults to the environment variable ``env_var``
    (``PGSTATKIT_ADMIN_TOKEN``), read now. The comparison is constant-time; a missing or
    wrong token gets 401 with ``WWW-Authenticate: Bearer``.

    Raises:
        ValueError: no token, or an empty or blank one (it would admit anyone who
            guessed that the check is misconfigured).
    """
    secret = token if token is not None else os.environ.get(env_var)
    if secret is None:
        raise ValueError(
            f"bearer_token() needs a token: pass token=... or set the {env_var} "
            "environment variable"
        )
    if not secret.strip():
        raise ValueError("bearer_token() refuses an empty or blank token")
    expected = secret.encode("utf-8")
    scheme = HTTPBearer(auto_error=False, description="The admin token of pgstatkit.")

    async def require_bearer_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),  # noqa: B008 - the closure's scheme
    ) -> None:
        given = b"" if credentials is None else credentials.credentials.encode("utf-8")
        # compare_digest on equal-length inputs only leaks the length, which is fine
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="Missing or invalid bearer token.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_bearer_token
