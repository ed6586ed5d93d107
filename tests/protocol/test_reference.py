"""Every message and field declared in proto/ must match Cursor's client descriptors.

The reference is tests/data/protocol/cursor_reference.json.gz (see its README), extended by
tests/data/protocol/addendum-2026-08.json: fields and messages newer than the descriptor,
each with evidence from clients written from real traffic (an addendum entry without
evidence fails `test_addendum_entries_have_evidence`; the addendum never reuses a reference
field number, checked too). We compare the *runtime* descriptors of the generated modules, so what is checked is exactly what
goes on the wire. Allowed, documented differences (same bytes on the wire):

- our `bytes` where the reference has `google.protobuf.Value` / `Struct` (a serialized Value);
- our int32/uint32 where the reference has an enum;
- our flattened `Outer_Inner` names for the reference's nested `Outer.Inner`;
- the reference's extraction artifacts, mapped in `REFERENCE_NAME_ALIASES`.

Anything else (a declaration the reference lacks, a differing type) must be listed in
`ALLOWED_DEVIATIONS` with its reason; an unlisted deviation fails, and so does a stale entry.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from cursor_bridge.protocol.messages import agent, aiserver

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "CURSOR_PROTOCOL_REFERENCE"

# Our declared message name -> the key the reference files it under, for the reference's
# extraction artifacts only (ordinary `Outer_Inner` / `Outer.Inner` spelling is handled by
# `_name_candidates`). Field types naming these artifacts resolve through the same table.
REFERENCE_NAME_ALIASES: dict[str, str] = {
    # The extractor glued the next token of the JS source onto the nested name.
    "agent.v1.RequestedModel_ModelParameter": "agent.v1.RequestedModel_ModelParameterbytes",
}

# The one allow-list of deviations from the reference: (message full name, field name, or
# None for a whole message) -> (what deviates, reason). `what` is "absent" (we declare
# something the reference lacks), "type" (a field's message type has another name; the field
# is otherwise checked) or "optional" (explicit presence differs; parsing is unaffected).
_S3_MODELS = "S3 only per run-stream.md §2.3 (AvailableModels variants)"
_CLIENT_SIDE_TOOL = "the reference types it `proto3` (artifact); it is ClientSideToolV2"
_PI = ("read", "bash", "edit", "write", "grep", "find", "ls")
_PI_NAMES = "same fields and numbers; the addendum names the type after pi-cursor's descriptor"
_PI_OURS = "our name for the addendum's pi-cursor type of the same shape (see the type entries)"
ALLOWED_DEVIATIONS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("aiserver.v1.AvailableModelsResponse_AvailableModel", "parameter_definitions"): (
        "absent",
        _S3_MODELS,
    ),
    ("aiserver.v1.AvailableModelsResponse_ParameterDefinition", None): ("absent", _S3_MODELS),
    ("aiserver.v1.AvailableModelsResponse_Variant", None): ("absent", _S3_MODELS),
    ("aiserver.v1.AvailableModelsResponse_ParameterValue", None): ("absent", _S3_MODELS),
    ("aiserver.v1.AvailableModelsResponse_AvailableModel", "variants"): (
        "type",
        "our AvailableModelsResponse_Variant is the addendum's AvailableModelVariant",
    ),
    # The reference types this field as McpToolResult {success 1, error 2 McpToolError{error 1
    # string}, rejected 3, permission_denied 4}; our McpResult has the same fields and numbers
    # (McpError == McpToolError) plus tool_not_found 5, so it parses the same bytes. Declaring
    # McpToolResult/McpToolError in agent.proto would remove this entry.
    ("agent.v1.McpToolCall", "result"): (
        "type",
        "McpResult is a wire-compatible superset of the reference's McpToolResult",
    ),
    # The extractor recorded these enum fields' type as the artifact `proto3`; seed 000 and the
    # enum's values identify it as ClientSideToolV2, checked by
    # test_declared_enums_match_the_reference.
    ("aiserver.v1.StreamedBackToolCallV2", "tool"): ("type", _CLIENT_SIDE_TOOL),
    ("aiserver.v1.StreamedBackPartialToolCall", "tool"): ("type", _CLIENT_SIDE_TOOL),
    # Server -> client only: presence changes what an encoder emits, never what we parse.
    ("agent.v1.SwitchModeArgs", "explanation"): (
        "optional",
        "decoded only; the reference marks it proto3 optional",
    ),
    # The current client encodes false explicitly (current-client.md §3, addendum evidence
    # for RequestContextEnv 14): presence changes what we emit, never what we parse.
    ("agent.v1.RequestContextEnv", "sandbox_enabled"): (
        "optional",
        "explicit false on the wire, as the current client sends it",
    ),
    # The pi_* exec family (requests 45-51, results 46-52): the addendum's type names are
    # pi-cursor's (PiReadToolArgs, PiOutputSuccess, ...); ours are per variant, same shapes.
    **{("agent.v1.ExecServerMessage", f"pi_{n}_args"): ("type", _PI_NAMES) for n in _PI},
    ("agent.v1.ExecClientMessage", "pi_write_result"): ("type", _PI_NAMES),
    **{
        (f"agent.v1.Pi{n.title()}ExecResult", part): ("type", _PI_NAMES)
        for n in _PI
        if n != "write"
        for part in ("success", "error")
    },
    ("agent.v1.PiEditExecResult", "rejected"): ("type", _PI_NAMES),
    **{
        (f"agent.v1.{name}", None): ("absent", _PI_OURS)
        for name in (
            *(f"Pi{n.title()}ExecArgs" for n in _PI),
            *(f"Pi{n.title()}Exec{part}" for n in _PI for part in ("Success", "Error")),
            "PiEditExecRejected",
            "PiWriteExecRejected",
            "PiWriteExecResult",
        )
    },
}

# The reference's `T` for a struct-like well-known type we carry as serialized bytes.
_VALUE_TYPE_NAMES = {"Value", "Struct", "ListValue"}

_SCALAR_NAMES = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}


ADDENDUM_PATH = REPO_ROOT / "tests" / "data" / "protocol" / "addendum-2026-08.json"


def _addendum() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ADDENDUM_PATH.read_text(encoding="utf-8"))
    return data


def with_addendum(reference: dict[str, Any], addendum: dict[str, Any]) -> dict[str, Any]:
    """The reference with the addendum's messages and fields merged in (a copy)."""
    merged = json.loads(json.dumps(reference))
    messages: dict[str, Any] = merged["messages"]
    for name, fields in addendum["messages"].items():
        key = name if name in messages else name.replace(".", "_").replace("_v1_", ".v1.", 1)
        key = key.replace("agent_v1.", "agent.v1.").replace("aiserver_v1.", "aiserver.v1.")
        target = messages.setdefault(key if key in messages else name, {})
        for field_name, field in fields.items():
            target.setdefault(field_name, field)
    return merged


def reference_path() -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    return REPO_ROOT / "tests" / "data" / "protocol" / "cursor_reference.json.gz"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    path = reference_path()
    if not path.is_file():
        pytest.fail(
            f"Cursor protocol reference not found at {path}. It is committed under "
            f"tests/data/protocol/; {ENV_VAR} points the test at another copy.",
            pytrace=False,
        )
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    data: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return with_addendum(data, _addendum())


def _declared_messages() -> list[Descriptor]:
    """Every message of our proto files, nested ones included, map entries excluded."""
    out: list[Descriptor] = []

    def visit(desc: Descriptor) -> None:
        if desc.GetOptions().map_entry:
            return
        out.append(desc)
        for nested in desc.nested_types:
            visit(nested)

    for module in (agent, aiserver):
        for desc in module.DESCRIPTOR.message_types_by_name.values():
            visit(desc)
    return out


def _split(full_name: str) -> tuple[str, str]:
    """`agent.v1.Foo.Bar` -> (`agent.v1`, `Foo.Bar`); the package is the lower-case prefix."""
    parts = full_name.split(".")
    index = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts) - 1)
    return ".".join(parts[:index]), ".".join(parts[index:])


def _canonical(full_name: str) -> str:
    """Nested `Outer.Inner` and flattened `Outer_Inner` compare equal."""
    package, local = _split(full_name)
    return f"{package}.{local.replace('.', '_')}"


def _name_candidates(full_name: str) -> list[str]:
    """Ways the reference may spell our (possibly flattened) message name."""
    package, local = _split(full_name)
    pieces = local.split("_")
    out = []
    for joins in itertools.product("_.", repeat=len(pieces) - 1):
        name = pieces[0] + "".join(j + p for j, p in zip(joins, pieces[1:], strict=True))
        out.append(f"{package}.{name}")
    return out


def _reference_key(full_name: str, messages: dict[str, Any]) -> str | None:
    alias = REFERENCE_NAME_ALIASES.get(full_name)
    if alias is not None:
        return alias if alias in messages else None
    return next((c for c in _name_candidates(full_name) if c in messages), None)


def _reference_type_name(raw: str, package: str) -> str:
    """Normalise a reference `T` type name: `x_pb /* Name */.Y9` fragments and short names."""
    commented = re.search(r"/\*\s*([\w.]+)\s*\*/", raw)
    if commented:
        raw = commented.group(1)
    if not raw.startswith(("agent.", "aiserver.", "google.")):
        raw = f"{package}.{raw}"
    return raw


def _real_oneof(field: FieldDescriptor) -> str | None:
    """The field's oneof, ignoring the synthetic one proto3 `optional` creates."""
    oneof = field.containing_oneof
    if oneof is None:
        return None
    synthetic = len(oneof.fields) == 1 and oneof.name == f"_{field.name}" and field.has_presence
    return None if synthetic else oneof.name


@dataclasses.dataclass
class Report:
    problems: list[str] = dataclasses.field(default_factory=list)
    allowed_used: set[tuple[str, str | None]] = dataclasses.field(default_factory=set)

    def add(self, key: tuple[str, str | None], what: str, text: str) -> None:
        """Record a deviation unless ALLOWED_DEVIATIONS excuses exactly this one."""
        allowed = ALLOWED_DEVIATIONS.get(key)
        if allowed is not None and allowed[0] == what:
            self.allowed_used.add(key)
        else:
            self.problems.append(text)


def _compare_field(
    field: FieldDescriptor,
    ref: dict[str, Any],
    messages: dict[str, Any],
    report: Report,
) -> None:
    key = (field.containing_type.full_name, field.name)
    where = f"{key[0]}.{field.name} = {field.number}"
    package, _ = _split(key[0])

    def problem(what: str, text: str) -> None:
        report.add(key, what, f"{where}: {text}")

    if ref["no"] != field.number:
        problem("number", f"number {field.number}, reference {ref['no']}")

    is_map = (
        field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
    )
    ref_kind, ref_t = ref["kind"], ref["T"]
    if is_map:
        if ref_kind != "map":
            problem("kind", f"map, reference kind {ref_kind!r} ({ref_t})")
        # The reference only names the entry type of agent.v1 maps; nothing more to compare.
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        ours = field.message_type.full_name
        if ref_kind != "message":
            problem("kind", f"message {ours}, reference kind {ref_kind!r} ({ref_t})")
        else:
            theirs = _reference_type_name(str(ref_t), package)
            ours_key = _reference_key(ours, messages) or ours
            if _canonical(ours_key) != _canonical(theirs):
                problem("type", f"type {ours}, reference {ref_t}")
    elif field.type == FieldDescriptor.TYPE_ENUM:
        ours = field.enum_type.full_name
        theirs = _reference_type_name(str(ref_t), package)
        if ref_kind != "enum" or _canonical(ours) != _canonical(theirs):
            problem("type", f"enum {ours}, reference {ref_kind} {ref_t}")
    else:
        ours_scalar = _SCALAR_NAMES.get(field.type, str(field.type))
        if ref_kind == "scalar":
            if ref_t != field.type:
                problem("type", f"{ours_scalar} (type {field.type}), reference type {ref_t}")
        elif ref_kind == "enum":
            if field.type not in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32):
                problem("type", f"{ours_scalar}, reference enum {ref_t}")
        elif ref_kind == "message":
            _, local = _split(_reference_type_name(str(ref_t), package))
            if not (field.type == FieldDescriptor.TYPE_BYTES and local in _VALUE_TYPE_NAMES):
                problem("type", f"{ours_scalar}, reference message {ref_t}")
        else:
            problem("kind", f"{ours_scalar}, reference kind {ref_kind!r} ({ref_t})")

    if not is_map and bool(ref["repeated"]) != field.is_repeated:
        problem("repeated", f"repeated={field.is_repeated}, reference {ref['repeated']}")
    ours_oneof = _real_oneof(field)
    if ref.get("oneof") != ours_oneof:
        problem("oneof", f"oneof {ours_oneof!r}, reference {ref.get('oneof')!r}")
    # Only agent.v1 entries record proto3 `optional`; a member of a real oneof has presence
    # anyway, and so does every message field, so compare scalars outside oneofs only.
    if "optional" in ref and ours_oneof is None and field.type != FieldDescriptor.TYPE_MESSAGE:
        ours_optional = field.containing_oneof is not None
        if bool(ref["optional"]) != ours_optional:
            problem("optional", f"optional={ours_optional}, reference {ref['optional']}")


def _check(reference: dict[str, Any]) -> Report:
    messages: dict[str, Any] = reference["messages"]
    report = Report()
    for desc in _declared_messages():
        key = _reference_key(desc.full_name, messages)
        if key is None:
            report.add((desc.full_name, None), "absent", f"{desc.full_name}: not in the reference")
            continue
        ref_fields: dict[str, Any] = messages[key]
        by_number = {f["no"]: name for name, f in ref_fields.items()}
        for field in desc.fields:
            ref = ref_fields.get(field.name)
            if ref is not None:
                _compare_field(field, ref, messages, report)
                continue
            other = by_number.get(field.number)
            hint = f" (the reference calls #{field.number} {other!r})" if other else ""
            report.add(
                (desc.full_name, field.name),
                "absent",
                f"{desc.full_name}.{field.name} = {field.number}: not in the reference{hint}",
            )
    return report


def test_reference_has_the_expected_shape(reference: dict[str, Any]) -> None:
    assert "agent.v1.AgentClientMessage" in reference["messages"]
    assert "aiserver.v1.AvailableModelsResponse" in reference["messages"]


def test_declared_messages_match_the_reference(reference: dict[str, Any]) -> None:
    report = _check(reference)
    assert not report.problems, (
        f"{len(report.problems)} declaration(s) differ from {reference_path()}:\n  "
        + "\n  ".join(report.problems)
    )


def test_allow_list_has_no_stale_entries(reference: dict[str, Any]) -> None:
    """Each ALLOWED_DEVIATIONS entry must still excuse a deviation, or it has to go."""
    report = _check(reference)
    stale = sorted(set(ALLOWED_DEVIATIONS) - report.allowed_used, key=str)
    assert not stale, f"ALLOWED_DEVIATIONS entries that no longer apply: {stale}"


def _declared_enums() -> list[EnumDescriptor]:
    """Every enum of our proto files, top-level and nested."""
    out: list[EnumDescriptor] = []
    for module in (agent, aiserver):
        out.extend(module.DESCRIPTOR.enum_types_by_name.values())
    for desc in _declared_messages():
        out.extend(desc.enum_types)
    return out


def _check_enums(reference: dict[str, Any]) -> list[str]:
    """Every enum value we declare must exist in the reference with the same number."""
    enums: dict[str, dict[str, int]] = reference["enums"]
    problems: list[str] = []
    for enum in _declared_enums():
        key = next((c for c in _name_candidates(enum.full_name) if c in enums), None)
        if key is None:
            problems.append(f"{enum.full_name}: not in the reference")
            continue
        for value in enum.values:
            theirs = enums[key].get(value.name)
            if theirs != value.number:
                problems.append(
                    f"{enum.full_name}.{value.name} = {value.number}: reference {theirs}"
                )
    return problems


def test_declared_enums_match_the_reference(reference: dict[str, Any]) -> None:
    problems = _check_enums(reference)
    assert not problems, "\n  ".join(["enums differ from the reference:", *problems])


def test_enum_check_catches_deviations(reference: dict[str, Any]) -> None:
    corrupted = json.loads(json.dumps(reference))
    tools = corrupted["enums"]["aiserver.v1.ClientSideToolV2"]
    tools["CLIENT_SIDE_TOOL_V2_READ_FILE"] = 99
    del tools["CLIENT_SIDE_TOOL_V2_MCP"]
    problems = "\n".join(_check_enums(corrupted))
    assert "CLIENT_SIDE_TOOL_V2_READ_FILE = 5: reference 99" in problems
    assert "CLIENT_SIDE_TOOL_V2_MCP = 19: reference None" in problems
    del corrupted["enums"]["aiserver.v1.ClientSideToolV2"]
    assert "aiserver.v1.ClientSideToolV2: not in the reference" in _check_enums(corrupted)


def test_aliases_point_at_real_reference_entries(reference: dict[str, Any]) -> None:
    declared = {desc.full_name for desc in _declared_messages()}
    for ours, theirs in REFERENCE_NAME_ALIASES.items():
        assert ours in declared, f"alias for undeclared message {ours}"
        assert theirs in reference["messages"], f"alias target {theirs} not in the reference"


def test_checker_catches_deviations(reference: dict[str, Any]) -> None:
    """The comparison itself is not vacuous: corrupt the reference and expect findings."""
    corrupted = json.loads(json.dumps(reference))
    messages = corrupted["messages"]
    messages["agent.v1.AgentRunRequest"]["conversation_id"]["no"] = 99
    messages["agent.v1.McpToolDefinition"]["input_schema"]["T"] = 9
    messages["agent.v1.RequestedModel"]["parameters"]["repeated"] = False
    messages["agent.v1.ConversationAction"]["user_message_action"]["oneof"] = "other"
    messages["agent.v1.RequestContext"]["cloud_rule"]["optional"] = False
    # An allow-listed type deviation does not excuse other differences of that field.
    messages["agent.v1.McpToolCall"]["result"]["no"] = 7
    messages["agent.v1.McpArgs"]["args"]["kind"] = "message"
    del messages["agent.v1.TextDeltaUpdate"]["text"]
    del messages["agent.v1.ReadArgs"]
    problems = "\n".join(_check(corrupted).problems)
    for needle in (
        "agent.v1.AgentRunRequest.conversation_id = 5: number 5, reference 99",
        "agent.v1.McpToolDefinition.input_schema = 3: bytes (type 12), reference type 9",
        "agent.v1.RequestedModel.parameters = 3: repeated=True",
        "agent.v1.ConversationAction.user_message_action = 1: oneof 'action'",
        "agent.v1.RequestContext.cloud_rule = 16: optional=True, reference False",
        "agent.v1.McpToolCall.result = 2: number 2, reference 7",
        "agent.v1.McpArgs.args = 2: map",
        "agent.v1.TextDeltaUpdate.text = 1: not in the reference",
        "agent.v1.ReadArgs: not in the reference",
    ):
        assert needle in problems, f"{needle!r} not reported in:\n{problems}"


def test_addendum_entries_have_evidence() -> None:
    """Every addendum message or field we may accept names its source."""
    addendum = _addendum()
    evidence: dict[str, str] = addendum["evidence"]
    missing = [
        f"{name}.{field}"
        for name, fields in addendum["messages"].items()
        for field in fields
        if not evidence.get(f"{name}.{field}") and not evidence.get(name)
    ]
    assert not missing, f"addendum entries without evidence: {missing}"


def test_addendum_never_reuses_a_reference_number() -> None:
    raw = gzip.decompress((REPO_ROOT / "tests/data/protocol/cursor_reference.json.gz").read_bytes())
    messages = json.loads(raw)["messages"]
    clashes = []
    for name, fields in _addendum()["messages"].items():
        taken = {f["no"] for f in messages.get(name, {}).values()}
        clashes.extend(f"{name}.{n}" for n, f in fields.items() if f["no"] in taken)
    assert not clashes, clashes


def test_addendum_fields_are_accepted(reference: dict[str, Any]) -> None:
    """A field only the addendum knows passes; the same field with a wrong number does not."""
    assert "web_fetch_request_query" in reference["messages"]["agent.v1.InteractionQuery"]
    report = _check(reference)
    assert not any("web_fetch_request_query" in p for p in report.problems)
    corrupted = json.loads(json.dumps(reference))
    corrupted["messages"]["agent.v1.InteractionQuery"]["web_fetch_request_query"]["no"] = 90
    problems = "\n".join(_check(corrupted).problems)
    assert "web_fetch_request_query = 9: number 9, reference 90" in problems
