"""Cursor accounts: logging in, storing and refreshing tokens (the only owner of token files).

- `login`: the browser (PKCE) flow, API-key exchange, saving an account.
- `importers`: credentials from the Cursor IDE (`state.vscdb`) and the cursor-agent CLI.
- `store`: one 0600 JSON file per account under the bridge home.
- `refresh` / `provider`: new tokens before expiry or after a refusal, single-flight.
- `claims`: reading `exp`/`sub` from a JWT, masking secrets for display.
"""

from .claims import expires_at, mask, subject, token_claims
from .client import AuthClient, AuthEndpoints, AuthError
from .importers import (
    CredentialsNotFound,
    ImportedCredentials,
    import_cursor_agent,
    import_cursor_ide,
)
from .login import LoginAttempt, LoginFailed, exchange_api_key, save_login, wait_for_approval
from .provider import AccountTokenProvider, LoggedOut
from .refresh import REFRESH_CANDIDATES, RefreshFailed, refresh_account
from .store import Account, TokenStore, normalize_backend

__all__ = [
    "REFRESH_CANDIDATES",
    "Account",
    "AccountTokenProvider",
    "AuthClient",
    "AuthEndpoints",
    "AuthError",
    "CredentialsNotFound",
    "ImportedCredentials",
    "LoggedOut",
    "LoginAttempt",
    "LoginFailed",
    "RefreshFailed",
    "TokenStore",
    "exchange_api_key",
    "expires_at",
    "import_cursor_agent",
    "import_cursor_ide",
    "mask",
    "normalize_backend",
    "refresh_account",
    "save_login",
    "subject",
    "token_claims",
    "wait_for_approval",
]
