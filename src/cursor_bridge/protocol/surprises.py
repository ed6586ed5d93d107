"""Protocol surprises: what the backend sent that our schema or our model of the Run did not
expect, found while the Run is read normally.

Nothing here changes how a Run is handled (RunMachine already skips unknown fields, refuses
unknown exec kinds and fails a Run that ends early); it names each surprise so an operator
can count and report it: an unknown field (with its number and where), a oneof member our
schema lacks (a new server message, update, exec or query kind), a blob request for an id
the client never stored, a stream that ended before `turn_ended`, a backend error code.
A surprise carries no content: message paths, field numbers and codes only.

Pure: `SurpriseWatch` inspects decoded messages and hands each surprise to a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from . import events as ev
from .errors import CONNECT_CODES, ConnectError
from .messages import agent
from .wire_shape import is_real_oneof

# What a surprise is: the `what` label.
UNKNOWN_FIELD = "unknown_field"
UNKNOWN_MESSAGE = "unknown_message"  # an AgentServerMessage member our schema lacks
UNKNOWN_MEMBER = "unknown_member"  # a nested oneof member our schema lacks
UNKNOWN_EXEC_KIND = "unknown_exec_kind"
UNKNOWN_QUERY_KIND = "unknown_query_kind"
BLOB_NOT_STORED = "blob_not_stored"
ENDED_BEFORE_TURN_ENDED = "ended_before_turn_ended"
ERROR_CODE = "error_code"

# Per-token messages (told apart by the event they produced, which costs nothing to look at)
# are inspected this many times per Run, then trusted: a field added to them shows up on the
# first ones, and a full walk per token would cost more than decoding it.
_HOT_EVENTS = frozenset({ev.TextDelta, ev.TokenDelta, ev.ThinkingDelta, ev.ServerHeartbeat})
_HOT_SAMPLE = 64
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
# The oneof whose unknown member has a name of its own; other oneofs give UNKNOWN_MEMBER.
_ONEOF_WHAT = {
    "agent.v1.AgentServerMessage": UNKNOWN_MESSAGE,
    "agent.v1.ExecServerMessage": UNKNOWN_EXEC_KIND,
    "agent.v1.InteractionQuery": UNKNOWN_QUERY_KIND,
}
# Opaque state kept verbatim (the checkpoint): only the parts the Run reads are inspected.
_OPAQUE = {"agent.v1.ConversationStateStructure": ("token_details",)}


@dataclass(frozen=True, slots=True)
class Surprise:
    """One surprise. `where` is a message path (`interaction_update.text_delta`) or, for the
    end of the Run, `end_stream`; `number` is the field number involved (0: none); `code`
    the backend's error code for ERROR_CODE."""

    where: str
    what: str
    number: int = 0
    code: str = ""

    @property
    def label(self) -> str:
        """The `what` label of the metric (error codes are told apart)."""
        return f"{self.what}:{self.code}" if self.code else self.what

    def describe(self) -> str:
        number = f" (field {self.number})" if self.number else ""
        return f"{self.label} at {self.where}{number}"


Report = Callable[[Surprise], None]


class SurpriseWatch:
    """The surprises of one Run, reported to `report` as they are found.

    RunMachine calls `message()` for every decoded server message (with the events it
    produced) and `ended()` once when the Run ends.
    """

    def __init__(self, report: Report) -> None:
        self._report = report
        self._hot = 0

    def message(self, message: agent.AgentServerMessage, events: list[ev.Event]) -> None:
        if events and type(events[0]) in _HOT_EVENTS:
            self._hot += 1
            if self._hot > _HOT_SAMPLE:
                return
        for surprise in inspect(message):
            self._report(surprise)
        for event in events:
            if isinstance(event, ev.BlobServed) and not event.found:
                self.blob_not_stored()

    def blob_not_stored(self) -> None:
        """The backend asked for a blob we never stored (RunMachine reads some get_blob
        requests from their bytes, without `message()`: they hold nothing else to report)."""
        self._report(Surprise("kv_server_message.get_blob_args", BLOB_NOT_STORED))

    def http_error(self, status: int, code: str) -> None:
        """The Run was refused with an HTTP status (`code`: the Connect code it maps to)."""
        known = code if code in CONNECT_CODES else "unknown"  # the body may say anything
        self._report(Surprise("http_status", ERROR_CODE, status, known))

    def ended(self, error: ConnectError | None, turn_ended: bool) -> None:
        if error is not None:
            self._report(Surprise("end_stream", ERROR_CODE, code=error.code))
        elif not turn_ended:
            self._report(Surprise("end_stream", ENDED_BEFORE_TURN_ENDED))


def inspect(message: Message, path: str = "") -> list[Surprise]:
    """Every surprise in *message* and the sub-messages below it (recursively)."""
    out: list[Surprise] = []
    _walk(message, path, out)
    return out


@dataclass(frozen=True, slots=True)
class _Children:
    """Where one message type can hold sub-messages, worked out once per type: reading
    only those fields (not `ListFields()`, which also copies out every bytes and string
    value, blob data included) makes a walk several times cheaper."""

    oneofs: tuple[str, ...]  # real oneofs with a message member
    members: frozenset[str]  # their message members
    singular: tuple[str, ...]  # other singular message fields
    repeated: tuple[str, ...]
    maps: tuple[str, ...]  # maps whose values are messages
    numbers: dict[str, int]
    opaque: bool  # its own unknown fields are not surprises (see _OPAQUE)
    # The one oneof when it is the only place sub-messages can be (most levels of a Run
    # message): the walk then makes one lookup, no list.
    only_oneof: str | None

    @classmethod
    def of(cls, descriptor: Any) -> _Children:
        opaque = _OPAQUE.get(descriptor.full_name)
        oneofs, members, singular, repeated, maps = [], set(), [], [], []
        for field in descriptor.fields:
            if field.type != _MESSAGE or (opaque is not None and field.name not in opaque):
                continue
            oneof = field.containing_oneof
            if field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].type == _MESSAGE:
                    maps.append(field.name)
            elif field.is_repeated:
                repeated.append(field.name)
            elif is_real_oneof(oneof):
                members.add(field.name)
                if oneof.name not in oneofs:
                    oneofs.append(oneof.name)
            else:
                singular.append(field.name)
        numbers = {field.name: field.number for field in descriptor.fields}
        only_oneof = oneofs[0] if len(oneofs) == 1 and not (singular or repeated or maps) else None
        return cls(
            oneofs=tuple(oneofs),
            members=frozenset(members),
            singular=tuple(singular),
            repeated=tuple(repeated),
            maps=tuple(maps),
            numbers=numbers,
            opaque=opaque is not None,
            only_oneof=only_oneof,
        )


_CHILDREN: dict[type, _Children] = {}  # by message class


def _walk(message: Message, path: str, out: list[Surprise]) -> None:
    children = _CHILDREN.get(type(message))
    if children is None:
        children = _CHILDREN[type(message)] = _Children.of(message.DESCRIPTOR)
    if not children.opaque:
        unknown = unknown_fields.UnknownFieldSet(message)
        if len(unknown):
            _unknown(message, unknown, path, out)
    oneof = children.only_oneof
    if oneof is not None:
        member = message.WhichOneof(oneof)
        if member in children.members:
            _walk(getattr(message, member), f"{path}.{member}" if path else member, out)
        return
    # (field number, name, values): walked in field-number order, as ListFields() gives them.
    found: list[tuple[int, str, Iterable[Message]]] = []
    for oneof in children.oneofs:
        member = message.WhichOneof(oneof)
        if member in children.members:
            found.append((children.numbers[member], member, (getattr(message, member),)))
    for name in children.singular:
        if message.HasField(name):
            found.append((children.numbers[name], name, (getattr(message, name),)))
    for name in children.repeated:
        items = getattr(message, name)
        if len(items):
            found.append((children.numbers[name], name, items))
    for name in children.maps:
        entries = getattr(message, name)
        if len(entries):
            found.append((children.numbers[name], name, entries.values()))
    if len(found) > 1:
        found.sort(key=lambda child: child[0])
    for _, name, items in found:
        child = f"{path}.{name}" if path else name
        for item in items:
            _walk(item, child, out)


def _unknown(
    message: Message, unknown: unknown_fields.UnknownFieldSet, path: str, out: list[Surprise]
) -> None:
    descriptor = message.DESCRIPTOR
    empty_oneofs = [
        o for o in descriptor.oneofs if is_real_oneof(o) and message.WhichOneof(o.name) is None
    ]
    for index in range(len(unknown)):
        field = unknown[index]
        what = UNKNOWN_FIELD
        if empty_oneofs and field.wire_type == 2:
            # A length-delimited unknown field beside an empty oneof is most likely a
            # member newer than our schema.
            what = _ONEOF_WHAT.get(descriptor.full_name, UNKNOWN_MEMBER)
        out.append(Surprise(path or descriptor.name, what, field.field_number))
