"""The streaming build's driver: a log of any length in, bounded memory, the same index.

`events` spreads the log's events over buckets of users on disk (Parquet), `sessions`
sessionises one bucket as the whole log's sessions would be, `pairs` keeps each bucket's
counted training pairs on disk in log order and merges them back, and `build` drives the
passes and hands the counts to `indexer.publish`, as the in-memory build does.
"""
