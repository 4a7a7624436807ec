#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter: python3.10 on PATH, else a pyenv
# 3.10.x under $(pyenv root)/versions, else one that uv knows or installs.
set -u
works() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; }
if command -v python3.10 >/dev/null 2>&1 && works "$(command -v python3.10)"; then
  command -v python3.10; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  for candidate in $(ls -d "$(pyenv root)"/versions/3.10.* 2>/dev/null | sort -V -r); do
    if works "$candidate/bin/python3.10"; then echo "$candidate/bin/python3.10"; exit 0; fi
  done
fi
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
  [ -n "$root" ] || continue
  for candidate in $(ls -d "$root"/versions/3.10.* 2>/dev/null | sort -V -r); do
    if works "$candidate/bin/python3.10"; then echo "$candidate/bin/python3.10"; exit 0; fi
  done
done
if command -v uv >/dev/null 2>&1; then
  found=$(uv python find 3.10 2>/dev/null || (uv python install 3.10 >/dev/null 2>&1 && uv python find 3.10))
  if [ -n "$found" ] && works "$found"; then echo "$found"; exit 0; fi
fi
echo "No Python 3.10 found: tried python3.10 on PATH, \$(pyenv root)/versions/3.10.*, and uv." >&2
exit 1
