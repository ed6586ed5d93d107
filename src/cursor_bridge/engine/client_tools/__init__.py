"""Cursor's built-in exec kinds on the client's own tools, and back (pure: no I/O).

The backend's model asks for built-ins (read, write, ls, grep, shell ...); the client offers
its own tools under its own names and argument names. For each kind, a *mapper* turns the
request into a call of the client's matching tool (`ClientCall`) and a *result parser*
turns the tool's text result back into the kind's typed result; the exec-kind registry
(engine/exec_registry.py) says which mapper and parser serve which kind. Nothing here runs
anything.

The client's vocabulary is read from the offered tools' names and JSON schemas, so OpenCode
(`read{filePath}`, `bash{command, workdir, timeout, description}`, `grep{pattern, path,
include}`, `glob`, `webfetch{url, format}`, `edit{filePath, oldString, newString}`,
`task`), Claude Code (`Read{file_path, offset, limit}`, `Bash{command, timeout}`,
`Grep{pattern, path, glob, output_mode, -i, -n, -A, -B, -C, head_limit}`, `Glob`, `LS`,
`WebFetch{url, prompt}`, `Edit{file_path, old_string, new_string}`), Codex
(`exec_command{cmd, workdir, yield_time_ms}`, older `shell{command: [...], workdir,
timeout_ms}`) and generic tools (bash/shell/run_command, read_file, write_file, list_dir,
grep/search, glob, fetch) are all found the same way. Clients with only a shell (Codex) get
shell commands for reads, listings and searches. By concept: calls.py (filling a tool's
arguments, shell commands), files.py, search.py, shell.py, services.py (fetch, subagents).
"""
