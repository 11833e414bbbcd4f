#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (working directory /autograder/source, the unpacked bundle). It installs a
# Python 3.11+, the CPU build of torch and the grader wheel of this bundle in
# /autograder/venv, where run_autograder finds them.
set -euo pipefail

# @settings@

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV=/autograder/venv
export DEBIAN_FRONTEND=noninteractive

# A package index that does not answer stops the build here, with a line naming it: pip would
# otherwise retry each package for seconds and fail only at the torch step, deep in a traceback.
export PIP_DEFAULT_TIMEOUT=15 PIP_RETRIES=1
reach() {
    local url="$1" what="$2"
    if ! "$PYTHON" - "$url" <<'PROBE'
import sys, urllib.request
try:  # a GET, as pip's: some mirrors refuse HEAD
    urllib.request.urlopen(sys.argv[1], timeout=15).close()
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
PROBE
    then
        echo "setup.sh: cannot reach $what at $url; a course behind a mirror builds its bundle with grader bundle --torch-index URL (and sets PIP_INDEX_URL)" >&2
        exit 1
    fi
}

python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
    local candidate
    for candidate in python3 python3.14 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

install_python() {
    # Ubuntu 22.04, Gradescope's default image, has Python 3.10 and packages 3.11 in
    # its own archive (universe); 24.04's python3 is 3.12. Only other images need
    # the deadsnakes PPA.
    apt-get install -y --no-install-recommends python3.11 python3.11-venv && return 0
    apt-get install -y --no-install-recommends python3 python3-venv && python_ok python3 && return 0
    apt-get install -y --no-install-recommends software-properties-common gpg-agent
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
}

apt-get update
if ! PYTHON="$(find_python)"; then
    install_python
    if ! PYTHON="$(find_python)"; then
        echo "setup.sh: no Python 3.11 or newer could be installed; choose the Ubuntu 22.04 or 24.04 base image" >&2
        exit 1
    fi
fi
# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) as a package of its own.
if ! "$PYTHON" -m ensurepip --version >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends "python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
fi

# The pages pip reads first: torch's on the torch index, pip's own on the package index.
reach "$TORCH_INDEX/torch/" "the torch index"
reach "${PIP_INDEX_URL:-https://pypi.org/simple}/pip/" "the Python package index"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# The CPU build, pinned: from PyPI, an unpinned or ranged torch is a multi-GB CUDA build.
"$VENV/bin/python" -m pip install "$TORCH" --index-url "$TORCH_INDEX"
# The grader itself; torch is already satisfied, the rest comes from PyPI.
"$VENV/bin/python" -m pip install "$SOURCE/$WHEEL"

# The answer key is for the grading process (root) alone: student code runs in a
# sandboxed worker under an unprivileged identity, which then cannot read it even
# where the kernel offers no Landlock.
chmod -R go= "$SOURCE/assignment"

# Fail the build now, not at the first submission, if the assignment does not load.
"$VENV/bin/python" -I -m grader list --assignment "$SOURCE/assignment" >/dev/null
# For the build log: which sandbox layers hold in Gradescope's container.
"$VENV/bin/python" -I -m grader doctor || true
