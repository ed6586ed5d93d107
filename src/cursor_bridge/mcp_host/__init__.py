"""MCP servers hosted by the bridge: configured, connected, offered to the model, called.

Modules: config (the file), naming (wire names), connection (one server, SDK client),
host (all servers; the per-request catalog), wire (protobuf shapes), cli (`mcp list`).
Nothing is imported here: the SDK is loaded only when servers are configured.
"""
