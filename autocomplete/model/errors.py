"""The model package's one error: an index directory that cannot be served as it is."""


class IndexFormatError(Exception):
    """An index directory is corrupt, incomplete or from an incompatible format version."""
