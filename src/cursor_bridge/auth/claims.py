"""What the bridge reads from a Cursor access token (a JWT), and how secrets are shown.

The signature is not checked, on purpose: the bridge is the token's holder, not its audience.
Cursor's servers verify every token they receive, and the bridge has no key to verify with; it
only needs `exp` to refresh in time and `sub` to name the account. A forged or corrupted
token gains nothing here: the backend refuses it and the bridge reports an auth error.
"""

from __future__ import annotations

from typing import Any

import jwt


def token_claims(token: str) -> dict[str, Any] | None:
    """The JWT payload, unverified; None when *token* is not a JWT (an opaque token)."""
    try:
        claims = jwt.decode(
            token,
            options={"verify_signature": False, "verify_exp": False, "verify_aud": False},
        )
    except jwt.InvalidTokenError:
        return None
    return claims if isinstance(claims, dict) else None


def expires_at(token: str) -> float | None:
    """The token's `exp` (Unix seconds), or None when it has none or is not a JWT."""
    claims = token_claims(token)
    exp = claims.get("exp") if claims else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def subject(token: str) -> str | None:
    """The `sub` claim: Cursor's auth id of the account (e.g. `auth0|user_...`)."""
    claims = token_claims(token)
    sub = claims.get("sub") if claims else None
    return sub if isinstance(sub, str) and sub else None


def mask(secret: str) -> str:
    """A secret as it may be shown: a short prefix, never enough to use it."""
    if not secret:
        return "(none)"
    return f"{secret[:6]}…" if len(secret) > 12 else "…"
