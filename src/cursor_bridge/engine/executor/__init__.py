"""The bridge's own executor for Cursor's built-in tools, by concept: the path jail
(jail.py), files (files.py), search (search.py, in a worker process), and shell commands
(shell.py, under a reaper and the bubblewrap sandbox). builtin.py dispatches."""

from .builtin import DEFAULT_OUTPUT_CAP, BuiltinExecutor
from .jail import PathJail, PathRejected
from .shell import SHELL_ENV_KEEP, shell_environment

__all__ = [
    "DEFAULT_OUTPUT_CAP",
    "SHELL_ENV_KEEP",
    "BuiltinExecutor",
    "PathJail",
    "PathRejected",
    "shell_environment",
]
