"""`cursor-bridge doctor`: a short scripted session that checks, step by step, that the
bridge and the backend understand each other, and says precisely where they do not."""

from .command import doctor

__all__ = ["doctor"]
