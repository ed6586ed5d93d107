"""What every dialect's request parsing shares: its 400 error, a lenient schema base and
inline image decoding. Dialects import this, never each other."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict

from ..engine.request import ImageInput


class InvalidRequest(Exception):
    """A 400: the body does not describe a valid request; `param` names the offending field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class Lenient(BaseModel):
    """Schemas accept fields they do not know: clients send many we do not use."""

    model_config = ConfigDict(extra="allow")


def data_url_image(url: str, param: str) -> ImageInput:
    """An image from an inline `data:` URL: the bridge never fetches remote content."""
    if not url.startswith("data:") or ";base64," not in url:
        raise InvalidRequest("Only base64 data: URLs are supported for images.", param)
    header, _, payload = url.partition(";base64,")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("The image data is not valid base64.", param) from exc
    return ImageInput(header.removeprefix("data:") or "image/png", data)
