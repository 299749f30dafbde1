#!/usr/bin/env bash
# Create .venv (Python 3.11) and install reidflow with its pinned dependencies.
#   bash setup.sh          the workflow
#   bash setup.sh --test   the workflow and the test tools (+ Debian's chromium when root)
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# pip's notes about missing mirror folders are noise; real errors still fail the script.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
if [[ -n "$extras" ]] && ! command -v chromium >/dev/null; then
    # The report's browser tests drive Debian's chromium (never a downloaded browser).
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "note: the browser tests need Debian's chromium (sudo apt-get install chromium); they skip without it"
    fi
fi
echo "reidflow installed in .venv"
