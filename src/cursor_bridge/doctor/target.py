"""Which backend the doctor checks, with which login, and the backend object it drives.

- A login stored for the backend URL: that account, against that backend (Cursor's real one
  by default). This costs requests.
- No login and Cursor's real URL (or `--emulator`): the built-in emulator, started in this
  process, with a throwaway API-key login made against it, so the login step runs too.
- No login and another URL (a separately started emulator): that URL, without a token.
"""

from __future__ import annotations

import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from ..auth import Account, AccountTokenProvider, AuthClient, AuthEndpoints, TokenStore
from ..auth.login import exchange_api_key, save_login
from ..engine.backend import BackendConfig, CursorBackend
from ..live import is_cursor
from ..protocol.headers import ClientIdentity
from ..transport import BackendPool
from ..wiretrace import WireRecorder

EMULATOR_API_KEY = "crsr_doctor_self_check"


@dataclass
class Target:
    """Where the doctor runs; `kind` is `account`, `emulator` (built in) or `url` (no login)."""

    kind: str
    api_url: str
    store: TokenStore | None = None
    account_path: Path | None = None
    account: Account | None = None
    label: str = ""


def choose_target(backend_url: str, store: TokenStore, *, force_emulator: bool = False) -> Target:
    api_url = backend_url.rstrip("/")
    found = None if force_emulator else store.current(api_url)
    if found is not None:
        path, account = found
        where = "Cursor" if is_cursor(api_url) else api_url
        return Target("account", api_url, store, path, account, f"{where} as {account.label}")
    if force_emulator or is_cursor(api_url):
        return Target("emulator", "", label="the BUILT-IN EMULATOR (no Cursor login found)")
    return Target("url", api_url, label=f"{api_url} without a login")


@dataclass
class Session:
    """What the steps drive: the backend, its auth pieces, and the recorder of its Runs."""

    target: Target
    backend: CursorBackend
    recorder: WireRecorder
    identity: ClientIdentity
    auth: AuthClient | None = None
    provider: AccountTokenProvider | None = None
    exits: AsyncExitStack = field(default_factory=AsyncExitStack)


async def open_session(
    target: Target,
    recorder: WireRecorder,
    identity: ClientIdentity,
    exits: AsyncExitStack,
) -> Session:
    """Start the built-in emulator when the target is it (with a throwaway login), and build
    the backend. Its Run host is found later, by the server-config step."""
    if target.kind == "emulator":
        from ..emulator import EmulatorOptions, EmulatorServer

        server = EmulatorServer("127.0.0.1", 0, EmulatorOptions(require_auth=True))
        await exits.enter_async_context(server)
        target.api_url = server.url
        home = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="doctor-")))
        target.store = TokenStore(home / "accounts")
        async with AuthClient(AuthEndpoints.for_backend(server.url)) as client:
            pair = await exchange_api_key(client, EMULATOR_API_KEY)
        account = save_login(target.store, server.url, pair, "api-key", api_key=EMULATOR_API_KEY)
        target.account = account
        found = target.store.current(server.url)
        target.account_path = found[0] if found else None
    config = BackendConfig(
        api_url=target.api_url, agent_url=target.api_url, identity=identity, recorder=recorder
    )
    session = Session(target, CursorBackend(config, BackendPool()), recorder, identity, exits=exits)
    if target.account is not None:
        session.auth = AuthClient(AuthEndpoints.for_backend(target.api_url))
        exits.push_async_callback(session.auth.aclose)
    return session  # the caller closes the backend (its Runs' ends are part of the check)


def use_account(session: Session) -> None:
    """From now on, the backend takes its token from the (refreshed) stored account."""
    target = session.target
    if target.store is None or target.account_path is None or session.auth is None:
        return
    provider = AccountTokenProvider(target.store, target.account_path, session.auth)
    session.provider = provider
    session.backend.config.token = provider
    session.backend.config.on_unauthenticated = provider.on_unauthenticated
