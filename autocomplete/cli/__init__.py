"""`autocomplete` command line: `main` parses and dispatches; one module per command.

    build-index   build_index.py     evaluate   evaluate.py     serve    serve.py
    export-fresh  export_fresh.py    complete   complete.py     replay   replay.py

Shared argument types are `args`; which errors become which exit status is `errors`; how a
build's progress looks is `progress`; what `--version` prints is `version`.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
