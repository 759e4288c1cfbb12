# The demo server: the package, an MPC index of the bundled real AOL sample, the web demo.
# Same steps as `make demo`: install, build-index --all from the sample, serve.
#   docker build -t qac . && docker run --rm -p 8000:8000 qac      # then open http://localhost:8000
# requirements.lock is compiled for this Python on linux x86_64 (LOCK_PYTHON in the Makefile):
# change them together, then `make lock`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --no-create-home --uid 10001 --shell /usr/sbin/nologin qac

# LightGBM (fitting the learned ranker when an index is built) needs the OpenMP runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, exactly as locked: every file's hash is checked and nothing is compiled
# from source, so the image holds the versions that were tested, whatever PyPI serves today.
COPY requirements.lock ./
RUN pip install --require-hashes --only-binary :all: -r requirements.lock
# Package sources next, so editing the demo page or the sample does not reinstall. --no-deps:
# everything it needs came from the lock; the build backend too (hence no build isolation).
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY autocomplete ./autocomplete
COPY session_store ./session_store
RUN pip install --no-deps --no-build-isolation .

COPY data/sample/aol-sample.tsv.gz ./data/sample/aol-sample.tsv.gz
COPY web_demo ./web_demo
# Built as root, readable by all: the server user can map the index but never change it.
# --min-users 1 as in the Makefile: the sample is public AOL data from 63 users.
RUN autocomplete build-index --log data/sample/aol-sample.tsv.gz --out /srv/index --model mpc --all --quiet --min-users 1 \
 && chmod -R a+rX /srv/index

USER qac
# A plain `pip install .` does not ship web_demo/, so point the server at the copy above.
ENV QAC_STATIC_DIR=/app/web_demo \
    QAC_PORT=8000
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('QAC_PORT', '8000'), timeout=2)"]

# Exec form: the server is PID 1 and gets `docker stop`'s SIGTERM (graceful drain, 1001 closes).
CMD ["autocomplete", "serve", "--index", "/srv/index", "--host", "0.0.0.0"]
