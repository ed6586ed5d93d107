"""The engine: turns a client's chat request into a Cursor Run and its output into events.

Callers (the HTTP server, the dialects) use only what this package exports: the request
model, the output events, the errors and the turn service (`TurnService`, provided over a
backend by `EngineService`). What lies beneath (the protocol, the transport, the Run's
machinery) stays inside.
"""

from __future__ import annotations

from .catalog import ModelChoice, ModelInfo
from .errors import EngineError, InvalidChatRequest, ModelNotFound
from .output import (
    SSE_KEEP_ALIVE,
    FinishReason,
    HostedCall,
    KeepAlive,
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    TodosUpdated,
    ToolCall,
    TurnFinished,
    TurnStarted,
    Usage,
)
from .request import ChatMessage, ChatRequest
from .service import MAX_REQUEST_SIZE, EngineService, TurnService, translated

__all__ = [
    "MAX_REQUEST_SIZE",
    "SSE_KEEP_ALIVE",
    "ChatMessage",
    "ChatRequest",
    "EngineError",
    "EngineService",
    "FinishReason",
    "HostedCall",
    "InvalidChatRequest",
    "KeepAlive",
    "ModelChoice",
    "ModelInfo",
    "ModelNotFound",
    "OutputEvent",
    "TextDelta",
    "ThinkingDelta",
    "TodosUpdated",
    "ToolCall",
    "TurnFinished",
    "TurnService",
    "TurnStarted",
    "Usage",
    "translated",
]
