"""cursor-bridge: serve the models of a Cursor subscription to OpenAI- and Anthropic-speaking clients."""

__version__ = "0.1.0"
