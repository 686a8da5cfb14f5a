#!/usr/bin/env bash
# Print the path of a working Python of the version given (default 3.13), or say how to get one.
# Looks on PATH first, then in pyenv's versions. A candidate counts only if it runs: pyenv's
# shims are on PATH for every version pyenv knows but refuse the ones not selected.
# Usage: scripts/find_python.sh [MAJOR.MINOR]
set -u
want=${1:-3.13}
candidates=("python$want" python3)
if command -v pyenv >/dev/null; then
    candidates+=("$(pyenv root)"/versions/"$want"*/bin/python"$want")
fi
for python in "${candidates[@]}"; do
    if "$python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; then
        command -v "$python"
        exit 0
    fi
done
cat >&2 <<EOF
No Python $want found (looked for python$want and python3 on PATH, and in pyenv's versions).
Get one, then run make setup again:
  * with pyenv:   pyenv install $want && make setup
  * with uv:      uv python install $want && make setup PYTHON=\$(uv python find $want)
  * Debian/Ubuntu: sudo apt-get install python$want python$want-venv
  * or name one:  make setup PYTHON=/path/to/python$want
EOF
exit 1
