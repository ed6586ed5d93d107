"""`GET /openapi.json`: the server's API described for tools (and for the fuzzing tests).

The document is written by hand and committed beside this module (openapi.json): it states
what the routes accept and answer, including the guards' 401/403/413/415 errors.
"""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response


@functools.cache
def document() -> bytes:
    return (resources.files(__package__) / "openapi.json").read_bytes()


async def openapi(request: Request) -> Response:
    return Response(document(), media_type="application/json")
