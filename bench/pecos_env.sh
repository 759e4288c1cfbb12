#!/usr/bin/env bash
# Make bench/.venv-pecos: libpecos (XR-Linear) for bench/quality.py's peer row.
# libpecos wants numpy<2 and, installed plainly, pulls in torch (~6 GB); XR-Linear needs
# neither torch nor our packages, so it gets its own small venv and runs as a subprocess.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" -m venv .venv-pecos
.venv-pecos/bin/pip install -q "numpy<2" "scipy<1.14" scikit-learn
.venv-pecos/bin/pip install -q --no-deps libpecos
.venv-pecos/bin/python -c "from pecos.xmc.xlinear.model import XLinearModel; print('libpecos ready')"
