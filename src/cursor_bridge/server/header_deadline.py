"""A deadline for each request's line and headers: slow-header clients are cut off.

uvicorn closes idle keep-alive connections and the body guard (`server/limits.py`'s read
deadline) times out slow bodies, but nothing limited how long a client may take to
send its request line and headers: one trickling a byte at a time ("slowloris"), or one
that connects and sends nothing, held a connection and its file descriptor for ever.
This HTTP protocol arms a timer when a connection opens and again when a request begins,
and closes the connection when the headers are not complete in time. It also gives each
request's cycle what http_cycle.py adds (its head written with the body, a disconnect hook).

uvicorn's keep-alive timeout (an idle connection is closed `timeout_keep_alive` seconds after
its last response) is kept the same way: uvicorn schedules a timer after every response and
cancels it when the next request's bytes arrive; here one timer per connection stands for
the moving deadline.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .http_cycle import CycleHooks, adopt

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline (`header_timeout` seconds).

    The deadline is a time, and one timer per connection stands for it: arming moves the
    time (the timer stays where it is), disarming clears it, and a timer that fires before
    the current deadline waits again for the rest. A request on a kept-alive connection thus
    costs no timer of its own (uvloop allocates, schedules and cancels one otherwise)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None
    _header_deadline: float | None = None
    _hook: CycleHooks | None = None
    # The keep-alive deadline (None while a request is under way), and its one timer.
    _idle_timer: asyncio.TimerHandle | None = None
    _idle_deadline: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._header_deadline = None
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:  # not on an upgrade
            self._hook = adopt(self.cycle, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._idle_deadline = None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)
        if self._hook is not None:
            self._hook.fire()

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive deadline moved instead of a timer scheduled."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        deadline = self.loop.time() + self.timeout_keep_alive
        self._idle_deadline = deadline
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_at(deadline, self._idle_expire)

    def _unset_keepalive_if_required(self) -> None:
        """Bytes arrived (or a response ended): the connection is not idle."""
        self._idle_deadline = None
        if self.timeout_keep_alive_task is not None:  # uvicorn's own (not armed here)
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def _idle_expire(self) -> None:
        self._idle_timer = None
        deadline = self._idle_deadline
        if deadline is None or self.transport.is_closing():
            return  # a request came since (or closing already)
        if self.loop.time() < deadline:  # idle again since, later: wait for the rest
            self._idle_timer = self.loop.call_at(deadline, self._idle_expire)
            return
        self.timeout_keep_alive_handler()

    def _arm(self) -> None:
        """The headers under way must be complete `header_timeout` seconds from now."""
        deadline = self.loop.time() + self.header_timeout
        self._header_deadline = deadline
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._header_timer = None
        deadline = self._header_deadline
        if deadline is None or self.transport.is_closing():
            return  # no headers under way (or closing already)
        if self.loop.time() < deadline:  # armed again since: wait for the rest
            self._header_timer = self.loop.call_at(deadline, self._expire)
            return
        self.transport.close()


def header_deadline_protocol(timeout: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for `uvicorn.Config(http=...)` with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": timeout})
