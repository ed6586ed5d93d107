"""cursor-bridge: the models of a Cursor subscription for OpenAI- and Anthropic-speaking tools."""

__version__ = "0.1.0"
