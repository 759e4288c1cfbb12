import gzip
from pathlib import Path

import pytest

from indexer.errors import LogFormatError
from indexer.querylog import QueryEvent, ReadStats, read_events

HEADER = "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n"


def _write(path: Path, rows: str, *, gz: bool = False) -> Path:
    data = (HEADER + rows).encode()
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_reads_the_original_aol_layout_and_collapses_click_duplicates(raw_sample):
    stats = ReadStats()
    events = list(read_events([raw_sample], stats))
    assert stats.rows == 35
    assert stats.duplicate_clicks == 1  # one query row repeated for a second click
    assert len(events) == 34
    assert events[0] == QueryEvent("142", "rentdirect.com", events[0].time)


def test_plain_and_gzip_logs_read_the_same(tmp_path):
    rows = "1\tFoo Bar\t2006-03-01 10:00:00\t1\thttp://x\n1\tfoo bar\t2006-03-01 10:00:00\t2\thttp://y\n"
    a = list(read_events([_write(tmp_path / "a.txt", rows)]))
    b = list(read_events([_write(tmp_path / "b.gz", rows, gz=True)]))
    assert a == b == [QueryEvent("1", "foo bar", a[0].time)]


def test_malformed_rows_are_counted_and_skipped_never_fatal(tmp_path):
    rows = (
        "1\tgood\t2006-03-01 10:00:00\t\t\n"
        "only-one-column\n"
        "2\tbad time\tyesterday\t\t\n"
        "\tno user\t2006-03-01 10:00:00\t\t\n"
        "3\t-\t2006-03-01 10:00:00\t\t\n"
        "4\tfine\t2006-03-02 11:00:00\n"
    )
    stats = ReadStats()
    events = list(read_events([_write(tmp_path / "m.txt", rows)], stats))
    assert [e.query for e in events] == ["good", "fine"]
    assert stats.malformed == 3 and stats.empty_queries == 1
    assert len(stats.malformed_examples) == 3


def test_missing_file_is_a_log_format_error(tmp_path):
    with pytest.raises(LogFormatError, match="no such file"):
        list(read_events([tmp_path / "nope.gz"]))


def test_truncated_gzip_is_a_log_format_error(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress((HEADER + "1\tq\t2006-03-01 10:00:00\n" * 5000).encode())[:200])
    with pytest.raises(LogFormatError, match="unreadable"):
        list(read_events([p]))


def test_wrong_columns_are_a_log_format_error(tmp_path):
    p = tmp_path / "csv.txt"
    p.write_text("user,query,time\n1,foo,2006-03-01\n2,bar,2006-03-01\n")
    with pytest.raises(LogFormatError, match="none of 3 rows"):
        list(read_events([p]))


def test_wrong_header_is_a_log_format_error(tmp_path):
    p = tmp_path / "h.txt"
    p.write_text("AnonID\tText\tWhen\n1\tq\t2006-03-01 10:00:00\n")
    with pytest.raises(LogFormatError, match="header"):
        list(read_events([p]))


def test_reader_streams_the_shared_log(shared_log):
    stats = ReadStats()
    n = sum(1 for _ in read_events([shared_log], stats))
    # the shared log's published figures: 350,351 rows, 273,379 distinct (user, query, time)
    # events (`docs/architecture.md`, "Data")
    assert stats.rows == 350_351
    assert n == 273_379
