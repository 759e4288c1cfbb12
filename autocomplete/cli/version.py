"""What `autocomplete --version` prints: the installed distribution's version.

The distribution is named in pyproject.toml (`[project] name`); the version comes from its
installed metadata, so an editable install and a wheel report the same thing. Run from a
source tree that was never installed, the package's own `__version__` is used if it has one.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

DISTRIBUTION = "session-qac"


def version() -> str:
    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        import autocomplete

        return str(getattr(autocomplete, "__version__", "unknown (not installed)"))
