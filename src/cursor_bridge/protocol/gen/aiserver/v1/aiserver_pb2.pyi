from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
