from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientSideToolV2(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_SIDE_TOOL_V2_UNSPECIFIED: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_SEMSEARCH_FILES: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_RIPGREP_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_LIST_DIR: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_EDIT_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FILE_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_SEMANTIC_SEARCH_FULL: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_DELETE_FILE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_REAPPLY: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_RUN_TERMINAL_COMMAND_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FETCH_RULES: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_WEB_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_MCP: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_SEARCH_SYMBOLS: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_BACKGROUND_COMPOSER_FOLLOWUP: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_KNOWLEDGE_BASE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FETCH_PULL_REQUEST: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_DEEP_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_CREATE_DIAGRAM: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_FIX_LINTS: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_LINTS: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_GO_TO_DEFINITION: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_TASK: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_AWAIT_TASK: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_TODO_READ: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_TODO_WRITE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_EDIT_FILE_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_LIST_DIR_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_FILE_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_RIPGREP_RAW_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_GLOB_FILE_SEARCH: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_CREATE_PLAN: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_LIST_MCP_RESOURCES: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_MCP_RESOURCE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_READ_PROJECT: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_UPDATE_PROJECT: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_TASK_V2: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_CALL_MCP_TOOL: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_APPLY_AGENT_DIFF: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_ASK_QUESTION: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_SWITCH_MODE: _ClassVar[ClientSideToolV2]
    CLIENT_SIDE_TOOL_V2_GENERATE_IMAGE: _ClassVar[ClientSideToolV2]
CLIENT_SIDE_TOOL_V2_UNSPECIFIED: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_SEMSEARCH_FILES: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_RIPGREP_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_LIST_DIR: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_EDIT_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FILE_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_SEMANTIC_SEARCH_FULL: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_DELETE_FILE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_REAPPLY: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_RUN_TERMINAL_COMMAND_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FETCH_RULES: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_WEB_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_MCP: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_SEARCH_SYMBOLS: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_BACKGROUND_COMPOSER_FOLLOWUP: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_KNOWLEDGE_BASE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FETCH_PULL_REQUEST: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_DEEP_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_CREATE_DIAGRAM: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_FIX_LINTS: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_LINTS: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_GO_TO_DEFINITION: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_TASK: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_AWAIT_TASK: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_TODO_READ: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_TODO_WRITE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_EDIT_FILE_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_LIST_DIR_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_FILE_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_RIPGREP_RAW_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_GLOB_FILE_SEARCH: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_CREATE_PLAN: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_LIST_MCP_RESOURCES: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_MCP_RESOURCE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_READ_PROJECT: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_UPDATE_PROJECT: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_TASK_V2: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_CALL_MCP_TOOL: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_APPLY_AGENT_DIFF: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_ASK_QUESTION: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_SWITCH_MODE: ClientSideToolV2
CLIENT_SIDE_TOOL_V2_GENERATE_IMAGE: ClientSideToolV2

class AvailableModelsRequest(_message.Message):
    __slots__ = ("is_nightly", "include_long_context_models", "exclude_max_named_models", "additional_model_names")
    IS_NIGHTLY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_LONG_CONTEXT_MODELS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MAX_NAMED_MODELS_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    is_nightly: bool
    include_long_context_models: bool
    exclude_max_named_models: bool
    additional_model_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, is_nightly: _Optional[bool] = ..., include_long_context_models: _Optional[bool] = ..., exclude_max_named_models: _Optional[bool] = ..., additional_model_names: _Optional[_Iterable[str]] = ...) -> None: ...

class AvailableModelsResponse(_message.Message):
    __slots__ = ("model_names", "models")
    MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    model_names: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedCompositeFieldContainer[AvailableModelsResponse_AvailableModel]
    def __init__(self, model_names: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[_Union[AvailableModelsResponse_AvailableModel, _Mapping]]] = ...) -> None: ...

class AvailableModelsResponse_AvailableModel(_message.Message):
    __slots__ = ("name", "default_on", "is_long_context_only", "is_chat_only", "supports_agent", "supports_thinking", "supports_images", "supports_max_mode", "context_token_limit", "context_token_limit_for_max_mode", "client_display_name", "server_model_name", "supports_non_max_mode", "parameter_definitions", "variants")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ON_FIELD_NUMBER: _ClassVar[int]
    IS_LONG_CONTEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
    IS_CHAT_ONLY_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_AGENT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_THINKING_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TOKEN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TOKEN_LIMIT_FOR_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVER_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_NON_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_on: bool
    is_long_context_only: bool
    is_chat_only: bool
    supports_agent: bool
    supports_thinking: bool
    supports_images: bool
    supports_max_mode: bool
    context_token_limit: int
    context_token_limit_for_max_mode: int
    client_display_name: str
    server_model_name: str
    supports_non_max_mode: bool
    parameter_definitions: _containers.RepeatedCompositeFieldContainer[AvailableModelsResponse_ParameterDefinition]
    variants: _containers.RepeatedCompositeFieldContainer[AvailableModelsResponse_Variant]
    def __init__(self, name: _Optional[str] = ..., default_on: _Optional[bool] = ..., is_long_context_only: _Optional[bool] = ..., is_chat_only: _Optional[bool] = ..., supports_agent: _Optional[bool] = ..., supports_thinking: _Optional[bool] = ..., supports_images: _Optional[bool] = ..., supports_max_mode: _Optional[bool] = ..., context_token_limit: _Optional[int] = ..., context_token_limit_for_max_mode: _Optional[int] = ..., client_display_name: _Optional[str] = ..., server_model_name: _Optional[str] = ..., supports_non_max_mode: _Optional[bool] = ..., parameter_definitions: _Optional[_Iterable[_Union[AvailableModelsResponse_ParameterDefinition, _Mapping]]] = ..., variants: _Optional[_Iterable[_Union[AvailableModelsResponse_Variant, _Mapping]]] = ...) -> None: ...

class AvailableModelsResponse_ParameterDefinition(_message.Message):
    __slots__ = ("id", "values")
    ID_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    id: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class AvailableModelsResponse_Variant(_message.Message):
    __slots__ = ("display_name", "is_max_mode", "is_default_max_config", "is_default_non_max_config", "parameter_values")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_MAX_MODE_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_MAX_CONFIG_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_NON_MAX_CONFIG_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_VALUES_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    is_max_mode: bool
    is_default_max_config: bool
    is_default_non_max_config: bool
    parameter_values: _containers.RepeatedCompositeFieldContainer[AvailableModelsResponse_ParameterValue]
    def __init__(self, display_name: _Optional[str] = ..., is_max_mode: _Optional[bool] = ..., is_default_max_config: _Optional[bool] = ..., is_default_non_max_config: _Optional[bool] = ..., parameter_values: _Optional[_Iterable[_Union[AvailableModelsResponse_ParameterValue, _Mapping]]] = ...) -> None: ...

class AvailableModelsResponse_ParameterValue(_message.Message):
    __slots__ = ("id", "value")
    ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    id: str
    value: str
    def __init__(self, id: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class StreamUnifiedChatResponse(_message.Message):
    __slots__ = ("text", "partial_tool_call", "thinking", "parallel_tool_calls_complete", "tool_call_v2")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TOOL_CALLS_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_V2_FIELD_NUMBER: _ClassVar[int]
    text: str
    partial_tool_call: StreamedBackPartialToolCall
    thinking: ConversationMessage_Thinking
    parallel_tool_calls_complete: bool
    tool_call_v2: StreamedBackToolCallV2
    def __init__(self, text: _Optional[str] = ..., partial_tool_call: _Optional[_Union[StreamedBackPartialToolCall, _Mapping]] = ..., thinking: _Optional[_Union[ConversationMessage_Thinking, _Mapping]] = ..., parallel_tool_calls_complete: _Optional[bool] = ..., tool_call_v2: _Optional[_Union[StreamedBackToolCallV2, _Mapping]] = ...) -> None: ...

class ConversationMessage_Thinking(_message.Message):
    __slots__ = ("text", "signature", "redacted_thinking", "is_last_thinking_chunk")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REDACTED_THINKING_FIELD_NUMBER: _ClassVar[int]
    IS_LAST_THINKING_CHUNK_FIELD_NUMBER: _ClassVar[int]
    text: str
    signature: str
    redacted_thinking: str
    is_last_thinking_chunk: bool
    def __init__(self, text: _Optional[str] = ..., signature: _Optional[str] = ..., redacted_thinking: _Optional[str] = ..., is_last_thinking_chunk: _Optional[bool] = ...) -> None: ...

class StreamedBackPartialToolCall(_message.Message):
    __slots__ = ("tool", "tool_call_id", "name", "tool_index")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    tool: ClientSideToolV2
    tool_call_id: str
    name: str
    tool_index: int
    def __init__(self, tool: _Optional[_Union[ClientSideToolV2, str]] = ..., tool_call_id: _Optional[str] = ..., name: _Optional[str] = ..., tool_index: _Optional[int] = ...) -> None: ...

class StreamedBackToolCallV2(_message.Message):
    __slots__ = ("tool", "tool_call_id", "name", "raw_args", "tool_index", "read_file_params", "list_dir_params", "edit_file_params", "delete_file_params", "run_terminal_command_v2_params", "ripgrep_search_params", "web_search_params", "mcp_params", "edit_file_v2_params", "list_dir_v2_params", "read_file_v2_params", "ripgrep_raw_search_params", "glob_file_search_params")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RAW_ARGS_FIELD_NUMBER: _ClassVar[int]
    TOOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    READ_FILE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    LIST_DIR_PARAMS_FIELD_NUMBER: _ClassVar[int]
    EDIT_FILE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    DELETE_FILE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    RUN_TERMINAL_COMMAND_V2_PARAMS_FIELD_NUMBER: _ClassVar[int]
    RIPGREP_SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    MCP_PARAMS_FIELD_NUMBER: _ClassVar[int]
    EDIT_FILE_V2_PARAMS_FIELD_NUMBER: _ClassVar[int]
    LIST_DIR_V2_PARAMS_FIELD_NUMBER: _ClassVar[int]
    READ_FILE_V2_PARAMS_FIELD_NUMBER: _ClassVar[int]
    RIPGREP_RAW_SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    GLOB_FILE_SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    tool: ClientSideToolV2
    tool_call_id: str
    name: str
    raw_args: str
    tool_index: int
    read_file_params: ReadFileParams
    list_dir_params: ListDirParams
    edit_file_params: EditFileParams
    delete_file_params: DeleteFileParams
    run_terminal_command_v2_params: RunTerminalCommandV2Params
    ripgrep_search_params: RipgrepSearchParams
    web_search_params: WebSearchParams
    mcp_params: MCPParams
    edit_file_v2_params: EditFileV2Params
    list_dir_v2_params: ListDirV2Params
    read_file_v2_params: ReadFileV2Params
    ripgrep_raw_search_params: RipgrepRawSearchParams
    glob_file_search_params: GlobFileSearchParams
    def __init__(self, tool: _Optional[_Union[ClientSideToolV2, str]] = ..., tool_call_id: _Optional[str] = ..., name: _Optional[str] = ..., raw_args: _Optional[str] = ..., tool_index: _Optional[int] = ..., read_file_params: _Optional[_Union[ReadFileParams, _Mapping]] = ..., list_dir_params: _Optional[_Union[ListDirParams, _Mapping]] = ..., edit_file_params: _Optional[_Union[EditFileParams, _Mapping]] = ..., delete_file_params: _Optional[_Union[DeleteFileParams, _Mapping]] = ..., run_terminal_command_v2_params: _Optional[_Union[RunTerminalCommandV2Params, _Mapping]] = ..., ripgrep_search_params: _Optional[_Union[RipgrepSearchParams, _Mapping]] = ..., web_search_params: _Optional[_Union[WebSearchParams, _Mapping]] = ..., mcp_params: _Optional[_Union[MCPParams, _Mapping]] = ..., edit_file_v2_params: _Optional[_Union[EditFileV2Params, _Mapping]] = ..., list_dir_v2_params: _Optional[_Union[ListDirV2Params, _Mapping]] = ..., read_file_v2_params: _Optional[_Union[ReadFileV2Params, _Mapping]] = ..., ripgrep_raw_search_params: _Optional[_Union[RipgrepRawSearchParams, _Mapping]] = ..., glob_file_search_params: _Optional[_Union[GlobFileSearchParams, _Mapping]] = ...) -> None: ...

class ReadFileParams(_message.Message):
    __slots__ = ("relative_workspace_path", "read_entire_file", "start_line_one_indexed", "end_line_one_indexed_inclusive", "file_is_allowed_to_be_read_entirely", "max_lines", "max_chars", "min_lines")
    RELATIVE_WORKSPACE_PATH_FIELD_NUMBER: _ClassVar[int]
    READ_ENTIRE_FILE_FIELD_NUMBER: _ClassVar[int]
    START_LINE_ONE_INDEXED_FIELD_NUMBER: _ClassVar[int]
    END_LINE_ONE_INDEXED_INCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    FILE_IS_ALLOWED_TO_BE_READ_ENTIRELY_FIELD_NUMBER: _ClassVar[int]
    MAX_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_CHARS_FIELD_NUMBER: _ClassVar[int]
    MIN_LINES_FIELD_NUMBER: _ClassVar[int]
    relative_workspace_path: str
    read_entire_file: bool
    start_line_one_indexed: int
    end_line_one_indexed_inclusive: int
    file_is_allowed_to_be_read_entirely: bool
    max_lines: int
    max_chars: int
    min_lines: int
    def __init__(self, relative_workspace_path: _Optional[str] = ..., read_entire_file: _Optional[bool] = ..., start_line_one_indexed: _Optional[int] = ..., end_line_one_indexed_inclusive: _Optional[int] = ..., file_is_allowed_to_be_read_entirely: _Optional[bool] = ..., max_lines: _Optional[int] = ..., max_chars: _Optional[int] = ..., min_lines: _Optional[int] = ...) -> None: ...

class ReadFileV2Params(_message.Message):
    __slots__ = ("target_file", "offset", "limit", "chars_limit", "effective_uri")
    TARGET_FILE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CHARS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_URI_FIELD_NUMBER: _ClassVar[int]
    target_file: str
    offset: int
    limit: int
    chars_limit: int
    effective_uri: str
    def __init__(self, target_file: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ..., chars_limit: _Optional[int] = ..., effective_uri: _Optional[str] = ...) -> None: ...

class EditFileParams(_message.Message):
    __slots__ = ("relative_workspace_path", "language", "contents", "blocking", "instructions", "old_string", "new_string", "allow_multiple_matches")
    RELATIVE_WORKSPACE_PATH_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    OLD_STRING_FIELD_NUMBER: _ClassVar[int]
    NEW_STRING_FIELD_NUMBER: _ClassVar[int]
    ALLOW_MULTIPLE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    relative_workspace_path: str
    language: str
    contents: str
    blocking: bool
    instructions: str
    old_string: str
    new_string: str
    allow_multiple_matches: bool
    def __init__(self, relative_workspace_path: _Optional[str] = ..., language: _Optional[str] = ..., contents: _Optional[str] = ..., blocking: _Optional[bool] = ..., instructions: _Optional[str] = ..., old_string: _Optional[str] = ..., new_string: _Optional[str] = ..., allow_multiple_matches: _Optional[bool] = ...) -> None: ...

class EditFileV2Params(_message.Message):
    __slots__ = ("relative_workspace_path", "contents_after_edit", "waiting_for_file_contents", "should_send_back_linter_errors", "result_for_model")
    RELATIVE_WORKSPACE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_AFTER_EDIT_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FILE_CONTENTS_FIELD_NUMBER: _ClassVar[int]
    SHOULD_SEND_BACK_LINTER_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FOR_MODEL_FIELD_NUMBER: _ClassVar[int]
    relative_workspace_path: str
    contents_after_edit: str
    waiting_for_file_contents: bool
    should_send_back_linter_errors: bool
    result_for_model: str
    def __init__(self, relative_workspace_path: _Optional[str] = ..., contents_after_edit: _Optional[str] = ..., waiting_for_file_contents: _Optional[bool] = ..., should_send_back_linter_errors: _Optional[bool] = ..., result_for_model: _Optional[str] = ...) -> None: ...

class ListDirParams(_message.Message):
    __slots__ = ("directory_path",)
    DIRECTORY_PATH_FIELD_NUMBER: _ClassVar[int]
    directory_path: str
    def __init__(self, directory_path: _Optional[str] = ...) -> None: ...

class ListDirV2Params(_message.Message):
    __slots__ = ("target_directory", "ignore_globs", "should_enrich_terminal_metadata")
    TARGET_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    IGNORE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    SHOULD_ENRICH_TERMINAL_METADATA_FIELD_NUMBER: _ClassVar[int]
    target_directory: str
    ignore_globs: _containers.RepeatedScalarFieldContainer[str]
    should_enrich_terminal_metadata: bool
    def __init__(self, target_directory: _Optional[str] = ..., ignore_globs: _Optional[_Iterable[str]] = ..., should_enrich_terminal_metadata: _Optional[bool] = ...) -> None: ...

class DeleteFileParams(_message.Message):
    __slots__ = ("relative_workspace_path",)
    RELATIVE_WORKSPACE_PATH_FIELD_NUMBER: _ClassVar[int]
    relative_workspace_path: str
    def __init__(self, relative_workspace_path: _Optional[str] = ...) -> None: ...

class RunTerminalCommandV2Params(_message.Message):
    __slots__ = ("command", "cwd", "new_session", "is_background", "require_user_approval", "idle_timeout_seconds")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_FIELD_NUMBER: _ClassVar[int]
    IS_BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_USER_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    command: str
    cwd: str
    new_session: bool
    is_background: bool
    require_user_approval: bool
    idle_timeout_seconds: int
    def __init__(self, command: _Optional[str] = ..., cwd: _Optional[str] = ..., new_session: _Optional[bool] = ..., is_background: _Optional[bool] = ..., require_user_approval: _Optional[bool] = ..., idle_timeout_seconds: _Optional[int] = ...) -> None: ...

class RipgrepSearchParams(_message.Message):
    __slots__ = ("options", "pattern_info")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_INFO_FIELD_NUMBER: _ClassVar[int]
    options: RipgrepSearchParams_ITextQueryBuilderOptionsProto
    pattern_info: RipgrepSearchParams_IPatternInfoProto
    def __init__(self, options: _Optional[_Union[RipgrepSearchParams_ITextQueryBuilderOptionsProto, _Mapping]] = ..., pattern_info: _Optional[_Union[RipgrepSearchParams_IPatternInfoProto, _Mapping]] = ...) -> None: ...

class RipgrepSearchParams_ITextQueryBuilderOptionsProto(_message.Message):
    __slots__ = ("surrounding_context", "is_smart_case", "include_pattern", "max_results")
    SURROUNDING_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    IS_SMART_CASE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    surrounding_context: int
    is_smart_case: bool
    include_pattern: RipgrepSearchParams_ITextQueryBuilderOptionsProto_ISearchPathPatternBuilderProto
    max_results: int
    def __init__(self, surrounding_context: _Optional[int] = ..., is_smart_case: _Optional[bool] = ..., include_pattern: _Optional[_Union[RipgrepSearchParams_ITextQueryBuilderOptionsProto_ISearchPathPatternBuilderProto, _Mapping]] = ..., max_results: _Optional[int] = ...) -> None: ...

class RipgrepSearchParams_ITextQueryBuilderOptionsProto_ISearchPathPatternBuilderProto(_message.Message):
    __slots__ = ("pattern", "patterns")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pattern: _Optional[str] = ..., patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class RipgrepSearchParams_IPatternInfoProto(_message.Message):
    __slots__ = ("pattern", "is_reg_exp", "is_word_match", "is_multiline", "is_case_sensitive")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    IS_REG_EXP_FIELD_NUMBER: _ClassVar[int]
    IS_WORD_MATCH_FIELD_NUMBER: _ClassVar[int]
    IS_MULTILINE_FIELD_NUMBER: _ClassVar[int]
    IS_CASE_SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    is_reg_exp: bool
    is_word_match: bool
    is_multiline: bool
    is_case_sensitive: bool
    def __init__(self, pattern: _Optional[str] = ..., is_reg_exp: _Optional[bool] = ..., is_word_match: _Optional[bool] = ..., is_multiline: _Optional[bool] = ..., is_case_sensitive: _Optional[bool] = ...) -> None: ...

class RipgrepRawSearchParams(_message.Message):
    __slots__ = ("pattern", "path", "glob", "output_mode", "context_before", "context_after", "context", "case_insensitive", "type", "head_limit", "multiline")
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    GLOB_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_MODE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CASE_INSENSITIVE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HEAD_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MULTILINE_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    path: str
    glob: str
    output_mode: str
    context_before: int
    context_after: int
    context: int
    case_insensitive: bool
    type: str
    head_limit: int
    multiline: bool
    def __init__(self, pattern: _Optional[str] = ..., path: _Optional[str] = ..., glob: _Optional[str] = ..., output_mode: _Optional[str] = ..., context_before: _Optional[int] = ..., context_after: _Optional[int] = ..., context: _Optional[int] = ..., case_insensitive: _Optional[bool] = ..., type: _Optional[str] = ..., head_limit: _Optional[int] = ..., multiline: _Optional[bool] = ...) -> None: ...

class GlobFileSearchParams(_message.Message):
    __slots__ = ("target_directory", "glob_pattern")
    TARGET_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    GLOB_PATTERN_FIELD_NUMBER: _ClassVar[int]
    target_directory: str
    glob_pattern: str
    def __init__(self, target_directory: _Optional[str] = ..., glob_pattern: _Optional[str] = ...) -> None: ...

class WebSearchParams(_message.Message):
    __slots__ = ("search_term",)
    SEARCH_TERM_FIELD_NUMBER: _ClassVar[int]
    search_term: str
    def __init__(self, search_term: _Optional[str] = ...) -> None: ...

class MCPParams(_message.Message):
    __slots__ = ("tools",)
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[MCPParams_Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[MCPParams_Tool, _Mapping]]] = ...) -> None: ...

class MCPParams_Tool(_message.Message):
    __slots__ = ("name", "description", "parameters", "server_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: str
    server_name: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[str] = ..., server_name: _Optional[str] = ...) -> None: ...

class ErrorDetails(_message.Message):
    __slots__ = ("error", "details", "is_expected")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    IS_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    error: int
    details: CustomErrorDetails
    is_expected: bool
    def __init__(self, error: _Optional[int] = ..., details: _Optional[_Union[CustomErrorDetails, _Mapping]] = ..., is_expected: _Optional[bool] = ...) -> None: ...

class CustomErrorDetails(_message.Message):
    __slots__ = ("title", "detail")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    title: str
    detail: str
    def __init__(self, title: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class GetCurrentPeriodUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCurrentPeriodUsageResponse(_message.Message):
    __slots__ = ("billing_cycle_start", "billing_cycle_end", "plan_usage", "spend_limit_usage", "display_threshold", "enabled", "display_message", "free_best_of_n_promotion")
    BILLING_CYCLE_START_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_END_FIELD_NUMBER: _ClassVar[int]
    PLAN_USAGE_FIELD_NUMBER: _ClassVar[int]
    SPEND_LIMIT_USAGE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FREE_BEST_OF_N_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    billing_cycle_start: int
    billing_cycle_end: int
    plan_usage: GetCurrentPeriodUsageResponse_PlanUsage
    spend_limit_usage: GetCurrentPeriodUsageResponse_SpendLimitUsage
    display_threshold: int
    enabled: bool
    display_message: str
    free_best_of_n_promotion: GetCurrentPeriodUsageResponse_FreeBestOfNPromotion
    def __init__(self, billing_cycle_start: _Optional[int] = ..., billing_cycle_end: _Optional[int] = ..., plan_usage: _Optional[_Union[GetCurrentPeriodUsageResponse_PlanUsage, _Mapping]] = ..., spend_limit_usage: _Optional[_Union[GetCurrentPeriodUsageResponse_SpendLimitUsage, _Mapping]] = ..., display_threshold: _Optional[int] = ..., enabled: _Optional[bool] = ..., display_message: _Optional[str] = ..., free_best_of_n_promotion: _Optional[_Union[GetCurrentPeriodUsageResponse_FreeBestOfNPromotion, _Mapping]] = ...) -> None: ...

class GetCurrentPeriodUsageResponse_PlanUsage(_message.Message):
    __slots__ = ("total_spend", "included_spend", "bonus_spend", "remaining", "limit", "remaining_bonus", "bonus_tooltip")
    TOTAL_SPEND_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_SPEND_FIELD_NUMBER: _ClassVar[int]
    BONUS_SPEND_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_BONUS_FIELD_NUMBER: _ClassVar[int]
    BONUS_TOOLTIP_FIELD_NUMBER: _ClassVar[int]
    total_spend: int
    included_spend: int
    bonus_spend: int
    remaining: int
    limit: int
    remaining_bonus: bool
    bonus_tooltip: str
    def __init__(self, total_spend: _Optional[int] = ..., included_spend: _Optional[int] = ..., bonus_spend: _Optional[int] = ..., remaining: _Optional[int] = ..., limit: _Optional[int] = ..., remaining_bonus: _Optional[bool] = ..., bonus_tooltip: _Optional[str] = ...) -> None: ...

class GetCurrentPeriodUsageResponse_SpendLimitUsage(_message.Message):
    __slots__ = ("total_spend", "pooled_limit", "pooled_used", "pooled_remaining", "individual_limit", "individual_used", "individual_remaining", "limit_type")
    TOTAL_SPEND_FIELD_NUMBER: _ClassVar[int]
    POOLED_LIMIT_FIELD_NUMBER: _ClassVar[int]
    POOLED_USED_FIELD_NUMBER: _ClassVar[int]
    POOLED_REMAINING_FIELD_NUMBER: _ClassVar[int]
    INDIVIDUAL_LIMIT_FIELD_NUMBER: _ClassVar[int]
    INDIVIDUAL_USED_FIELD_NUMBER: _ClassVar[int]
    INDIVIDUAL_REMAINING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_TYPE_FIELD_NUMBER: _ClassVar[int]
    total_spend: int
    pooled_limit: int
    pooled_used: int
    pooled_remaining: int
    individual_limit: int
    individual_used: int
    individual_remaining: int
    limit_type: str
    def __init__(self, total_spend: _Optional[int] = ..., pooled_limit: _Optional[int] = ..., pooled_used: _Optional[int] = ..., pooled_remaining: _Optional[int] = ..., individual_limit: _Optional[int] = ..., individual_used: _Optional[int] = ..., individual_remaining: _Optional[int] = ..., limit_type: _Optional[str] = ...) -> None: ...

class GetCurrentPeriodUsageResponse_FreeBestOfNPromotion(_message.Message):
    __slots__ = ("trials_used", "trials_remaining")
    TRIALS_USED_FIELD_NUMBER: _ClassVar[int]
    TRIALS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    trials_used: int
    trials_remaining: int
    def __init__(self, trials_used: _Optional[int] = ..., trials_remaining: _Optional[int] = ...) -> None: ...
