"""How an emulator instance behaves: timings, auth, catalog, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..wiretrace.format import Trace
from .catalog import CatalogModel
from .dashboard import UsagePlan
from .limits import EmulatedAccount


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Settings of one EmulatorServer.

    - `token_latency`: seconds between streamed deltas, text and thinking alike (0 = as fast
      as possible, for throughput benchmarks; 0.01-0.05 streams like a model typing at 20-100
      tokens/s, as the real service does: latency benchmarks and demos).
    - `heartbeat_interval`: cadence of `interaction_update.heartbeat` while the server waits
      on the client (blob replies, request context, tool results); 0 disables them.
    - `expected_token`: a fixed access token that is always accepted; when set, every other
      token is refused too (Run: end-stream `unauthenticated`; unary: HTTP 401).
    - `require_auth`: refuse Runs and RPCs without a valid access token (one this emulator
      issued, or `expected_token`). Without it, tokens the emulator issued are still checked
      (an expired one is refused) and requests without a token are served.
    - `token_lifetime` / `refresh_token_lifetime`: seconds an issued access / refresh token
      lives (short access tokens exercise refresh; `AuthService.advance_clock` skips time).
    - `refresh_endpoints`: which of the spec's three refresh calls this backend honours
      (`exchange_user_api_key`, `refresh`, `token`); the others answer 404. The real one is
      unconfirmed, so all three are on by default and tests switch them off one by one.
    - `api_keys`: the user API keys `exchange_user_api_key` accepts; None = any `crsr_...`.
    - `token_secret`: the JWT signing secret (default: random per instance).
    - `account_id` / `account_email`: the emulated user every login signs in as.
    - `models`: replaces the built-in catalog.
    - `client_idle_timeout`: while the server waits on the client, this long without any
      client frame ends the Run with `deadline_exceeded` (the 120 s the service's peers see).
    - `max_client_frame_size`: larger request envelopes end the Run with `invalid_argument`.
    - `gzip_min_size`: when set and the client sent `connect-accept-encoding: gzip`, frames
      whose payload has at least this many bytes are gzip-compressed (flag 0x01); a
      `/compress` turn compresses every frame of a client that accepts gzip.
    - `max_concurrent_streams`: the SETTINGS value; one connection may carry this many Runs.
    - `accounts`: more users, each logging in with its own API key (see limits.py).
    - `run_limit` / `run_limit_window`: at most this many Runs per window (seconds) per
      user; past it a Run ends with `resource_exhausted` and a RetryInfo (None: no limit).
    - `context_window`: every model's context window in tokens (None: the catalog's); a Run
      whose context (ceil(chars/4)) exceeds it ends with `invalid_argument` "Conversation too
      long" (wording inferred); `summarize_action` compacts a conversation (summarize.py).
    - `close_grace`: after the response ended, how long to wait for the client to end its side
      before RST_STREAM(NO_ERROR).
    - `inject`: protocol surprises put into every Run (see inject.py: `unknown-field`,
      `unknown-query`, `end-early`, `missing-blob`).
    - `replay`: a recorded wire trace; each Run then plays the server side of the next
      recorded Run instead of the scripted model (see replay.py).
    - `strict` (default on): as strict as the real backend where the facts say so
      (current-client.md): the prompt comes from `root_prompt_messages_json` only, inline
      bytes in `turns` are `Blob not found`, an empty blob answer blanks that history, the
      request context is asked for only when the run_request lacks one, and interaction
      replies must have the query's typed shape. `strict=False` keeps the older, lenient
      behaviour for tests that need it.
    - `max_runs_per_connection`: a Run opened past this many concurrent Runs on one HTTP/2
      connection closes the whole connection, as Cursor's server-side ceiling does (its value
      is unknown; O stays at 24, "well below" it, so 32 here is an inference).
    - `usage`: each user's plan and on-demand limits, the cost of a Run, whether running out
      refuses Runs, and a fault for the usage RPC (see dashboard.py).
    """

    token_latency: float = 0.0
    heartbeat_interval: float = 1.0
    expected_token: str | None = None
    require_auth: bool = False
    token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 60 * 86400.0
    refresh_endpoints: tuple[str, ...] = ("exchange_user_api_key", "refresh", "token")
    api_keys: tuple[str, ...] | None = None
    token_secret: str | None = None
    account_id: str = "emulator0001"
    account_email: str = "emulator-user@example.com"
    models: tuple[CatalogModel, ...] | None = None
    client_idle_timeout: float = 120.0
    max_client_frame_size: int = 32 * 1024 * 1024
    gzip_min_size: int | None = None
    max_concurrent_streams: int = 1000
    close_grace: float = 2.0
    accounts: tuple[EmulatedAccount, ...] = ()
    run_limit: int | None = None
    run_limit_window: float = 60.0
    context_window: int | None = None
    inject: tuple[str, ...] = ()
    replay: Trace | None = None
    strict: bool = True
    max_runs_per_connection: int = 32
    usage: UsagePlan = field(default_factory=UsagePlan)
