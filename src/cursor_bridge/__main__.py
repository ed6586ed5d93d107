"""`python -m cursor_bridge` runs the command line."""

from .cli import main

main(prog_name="cursor-bridge")
