"""cursor-bridge: the models of a Cursor subscription for OpenAI- and Anthropic-speaking tools."""

import logging

__version__ = "0.1.0"

# hpack (under h2) logs every decoded header at DEBUG, `authorization: Bearer <token>`
# included; httpx logs request URLs at INFO. Tokens must never reach a log, whatever level
# the user picks, so these loggers are held above those levels.
logging.getLogger("hpack").setLevel(logging.INFO)
logging.getLogger("httpx").setLevel(logging.WARNING)
