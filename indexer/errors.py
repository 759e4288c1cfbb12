"""The indexer's small error tree: callers catch the root, the CLI maps each to one line.

An index that cannot be read is `autocomplete.model.errors.IndexFormatError`.
"""


class IndexerError(Exception):
    """Root of every error the indexer raises on purpose."""


class LogFormatError(IndexerError):
    """A query log cannot be read at all (missing, not gzip, wrong columns, no rows)."""


class FreshFormatError(IndexerError):
    """A fresh-counts file (`autocomplete export-fresh`) is missing or malformed."""


class PartitionError(IndexerError):
    """The partitioned build cannot go on: a setting it cannot honour (depth 0), an
    unreachable scheduler, a failed branch task, or parts that do not fit together."""
