#!/bin/sh
# Run uv with the given arguments, installing uv first when this machine has none.
# uv then installs Python packages (and, if needed, a Python) from the committed uv.lock.
set -eu
if command -v uv >/dev/null 2>&1; then
  exec uv "$@"
fi
tool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cursor-bridge/uv-bootstrap"
if [ ! -x "$tool_dir/bin/uv" ]; then
  echo "uv not found: installing it into $tool_dir" >&2
  if python3 -m venv "$tool_dir" >/dev/null 2>&1; then
    "$tool_dir/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.5"
  else
    # No venv module (Debian without python3-venv): a user install, allowed past PEP 668.
    rm -rf "$tool_dir"
    python3 -m pip install --quiet --user --disable-pip-version-check "uv>=0.5" 2>/dev/null ||
      python3 -m pip install --quiet --user --break-system-packages "uv>=0.5"
    mkdir -p "$tool_dir/bin"
    ln -sf "$(python3 -m site --user-base)/bin/uv" "$tool_dir/bin/uv"
  fi
fi
exec "$tool_dir/bin/uv" "$@"
