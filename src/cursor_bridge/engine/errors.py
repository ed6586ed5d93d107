"""Errors the engine raises for the server to render in the client's dialect."""

from __future__ import annotations

from collections.abc import Sequence


class ModelNotFound(Exception):
    """The requested model is not in the account's catalog."""

    def __init__(self, requested: str, suggestions: Sequence[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"The model '{requested}' does not exist or is not available.{hint}")
        self.requested = requested
        self.suggestions = tuple(suggestions)


class InvalidChatRequest(Exception):
    """The request is well-formed JSON but cannot be turned into a turn (client's fault).

    `param` names the offending field in the internal model's terms (`messages`, `tools`,
    `tool_choice`); dialects may translate it.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
