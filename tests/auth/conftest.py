"""Fixtures of the account tests; the stack itself lives in tests/support/auth_stack.py so
test modules import it by a name no other folder's conftest shadows."""

from tests.support.auth_stack import auth_stack, emulator_options

__all__ = ["auth_stack", "emulator_options"]
