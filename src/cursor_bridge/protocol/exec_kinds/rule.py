"""What every exec kind shares on the wire (pure: no I/O).

The backend asks for a built-in tool with one member of ExecServerMessage's `message` oneof
(the *kind*, e.g. `read_args`); the answer goes in the ExecClientMessage member with the
same field number, except the pi_* family (requests #45-#51) whose result is one number
higher (#46-#52): exec-auth-models.md §1.1, run-stream.md §3.4. Every answer echoes the
request's `id` and `exec_id`.

Arguments reach the engine as a typed view (an `ArgsView`), parsed once from the request's
JSON form where the event is made; the lenient readers below are the only place that
forgives a loosely typed value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from ..messages import agent

if TYPE_CHECKING:
    from ..events import ExecRequested

Replies = list[agent.ExecClientMessage]

_REQUEST = agent.ExecServerMessage.DESCRIPTOR
_RESULT = agent.ExecClientMessage.DESCRIPTOR
# The family whose result field is one number above its request field.
_SHIFTED_PREFIX = "pi_"


def result_field(kind: str) -> str:
    """The ExecClientMessage member answering the ExecServerMessage member `kind`."""
    request = _REQUEST.fields_by_name.get(kind)
    if request is None or request.containing_oneof is None:
        raise ValueError(f"not an exec request kind: {kind!r}")
    number = request.number + 1 if kind.startswith(_SHIFTED_PREFIX) else request.number
    return str(_RESULT.fields_by_number[number].name)


def plain_text_answer(kind: str) -> bool:
    """Whether `kind` is answered with plain text (`success.output`), as the pi_* family is,
    rather than with a typed result."""
    return kind.startswith(_SHIFTED_PREFIX)


def exec_kinds() -> list[str]:
    """Every exec request member our schema declares, in field-number order."""
    return [field.name for field in _REQUEST.oneofs_by_name["message"].fields]


def display_member(kind: str) -> str | None:
    """The ToolCall member that shows the exec `kind` in the conversation (its `args` are
    the request's own args message), or None when our schema has no such record."""
    args_type = _REQUEST.fields_by_name[kind].message_type
    for field in agent.ToolCall.DESCRIPTOR.fields:
        args = field.message_type.fields_by_name.get("args") if field.message_type else None
        if args is not None and args.message_type is args_type:
            return str(field.name)
    return None


def args_message(kind: str) -> type[Message]:
    """The args message class the request member `kind` carries."""
    args_type = _REQUEST.fields_by_name[kind].message_type
    assert args_type is not None
    cls: type[Message] = getattr(agent, args_type.name)  # args messages are top-level
    return cls


def typed_args(event: ExecRequested) -> Message:
    """The event's arguments as the request's own args message (unknown keys ignored)."""
    message = args_message(event.kind)()
    json_format.ParseDict(event.args, message, ignore_unknown_fields=True)
    return message


def reply(event: ExecRequested) -> agent.ExecClientMessage:
    """An empty ExecClientMessage addressed to `event`."""
    return agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)


def result_of(event: ExecRequested) -> tuple[agent.ExecClientMessage, Message]:
    """A reply and its (empty) result message in the kind's own result field."""
    message = reply(event)
    result: Message = getattr(message, result_field(event.kind))
    result.SetInParent()
    return message, result


def answer(event: ExecRequested, case: str, **fields: Any) -> Replies:
    """One reply with the kind's result set to its `case` (e.g. `error`), `fields` filled."""
    message, result = result_of(event)
    target: Message = getattr(result, case)
    target.SetInParent()
    for name, value in fields.items():
        setattr(target, name, value)
    return [message]


def error_case(event: ExecRequested, reason: str) -> Replies:
    """`reason` in the kind's `error` case (the refusal of kinds without a `rejected`)."""
    return answer(event, "error", error=reason)


def rejected_case(event: ExecRequested, reason: str) -> Replies:
    """`reason` in the kind's `rejected` case."""
    return answer(event, "rejected", reason=reason)


def count_lines(text: str) -> int:
    """Lines as an editor counts them (a trailing newline does not open a new line)."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


# -- typed views of the arguments -------------------------------------------------------


class ArgsView:
    """A typed, read-only view of one exec request's arguments (a frozen dataclass)."""

    __slots__ = ()

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        """The view of the request's JSON-form arguments (any value type is survived).

        By default each field is read under its own name by its declared type; a view whose
        fields are named or combined otherwise says so by overriding this.
        """
        shape: Any = cls  # every view is a dataclass
        values = {
            field.name: _READERS[str(field.type)](args, field.name)
            for field in dataclasses.fields(shape)
        }
        view: Self = shape(**values)
        return view


@dataclass(frozen=True, slots=True)
class NoArgs(ArgsView):
    """Kinds whose arguments nothing reads (they are refused or answered generically)."""


V = TypeVar("V", bound=ArgsView)


def view(event: ExecRequested, cls: type[V]) -> V:
    """`event`'s arguments as `cls`; a TypeError when the kind has another view (a bug)."""
    found = event.view
    if not isinstance(found, cls):
        raise TypeError(f"{event.kind} has {type(found).__name__}, not {cls.__name__}")
    return found


def text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name, "")
    return value if isinstance(value, str) else str(value)


def number(args: Mapping[str, Any], name: str) -> int:
    try:
        return int(args.get(name, 0) or 0)
    except (TypeError, ValueError):
        return 0


def optional_number(args: Mapping[str, Any], name: str) -> int | None:
    """None when the request left the (presence-tracked) field unset."""
    return None if args.get(name) is None else number(args, name)


def seconds(args: Mapping[str, Any], name: str) -> float:
    value = args.get(name) or 0
    return float(value) if isinstance(value, int | float) else 0.0


def texts(args: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = args.get(name) or ()
    return tuple(str(item) for item in value) if isinstance(value, list | tuple) else ()


def flag(args: Mapping[str, Any], name: str) -> bool:
    return bool(args.get(name))


def optional_text(args: Mapping[str, Any], name: str) -> str | None:
    return None if args.get(name) is None else text(args, name)


def optional_flag(args: Mapping[str, Any], name: str) -> bool | None:
    return None if args.get(name) is None else flag(args, name)


# How ArgsView.parse reads a field, by its declared type.
_READERS: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
    "str": text,
    "int": number,
    "float": seconds,
    "bool": flag,
    "str | None": optional_text,
    "int | None": optional_number,
    "bool | None": optional_flag,
    "tuple[str, ...]": texts,
}


# -- one row of wire facts per kind ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wire:
    """A kind's wire facts: its arguments' view and the case a refusal is answered in."""

    kind: str
    view: type[ArgsView]
    refuse: Callable[[ExecRequested, str], Replies]
