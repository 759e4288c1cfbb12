import math

import pytest

from indexer.metrics import QualityReport, bleu4, bucket_of, reciprocal_rank


def test_reciprocal_rank_is_one_over_position_within_k():
    assert reciprocal_rank("b", ["a", "b", "c"]) == 0.5
    assert reciprocal_rank("z", ["a", "b"]) == 0.0
    assert reciprocal_rank("k", [str(i) for i in range(10)] + ["k"], k=10) == 0.0


@pytest.mark.parametrize(
    ("hyp", "ref", "expected"),
    [
        ("new york times", "new york times", 1.0),
        # p1=1, p2=p3=p4=1 (smoothed), brevity penalty exp(1 - 3/2)
        ("new york", "new york times", math.exp(-0.5)),
        # p1=1/2, p2=(0+1)/(1+1), p3=p4=1 -> (1/4)^(1/4)
        ("new jersey", "new york", 0.25**0.25),
        ("cats", "dogs", 0.0),
        ("", "dogs", 0.0),
    ],
)
def test_bleu4_hand_computed(hyp, ref, expected):
    assert bleu4(hyp, ref) == pytest.approx(expected)


def test_buckets_follow_the_design_card():
    assert [bucket_of(n) for n in (1, 2, 3, 4, 5, 6, 10, 11, 40)] == [
        "1",
        "2",
        "3",
        "4-5",
        "4-5",
        "6-10",
        "6-10",
        "11+",
        "11+",
    ]
    with pytest.raises(ValueError):
        bucket_of(0)


def test_report_averages_per_bucket_and_keeps_seen_separately():
    r = QualityReport()
    r.add("g", "google", ["google", "gmail"], seen=True)  # rr 1
    r.add("go", "google", ["goo", "google"], seen=True)  # rr 1/2
    r.add("goo", "goofy new", ["google"], seen=False)  # rr 0
    d = r.to_dict()
    assert d["all"]["overall"]["n"] == 3
    assert d["all"]["overall"]["mrr@10"] == pytest.approx(0.5)
    assert d["all"]["overall"]["success@1"] == pytest.approx(1 / 3)
    assert d["all"]["overall"]["success@10"] == pytest.approx(2 / 3)
    assert d["seen"]["overall"]["mrr@10"] == pytest.approx(0.75)
    assert d["all"]["2"]["mrr@10"] == pytest.approx(0.5)
    assert "3" not in d["seen"]


def test_merge_equals_adding_everything_to_one_report():
    a, b, both = QualityReport(), QualityReport(), QualityReport()
    for rep in (a, both):
        rep.add("a", "ab", ["ab"], True)
    for rep in (b, both):
        rep.add("abc d", "abc de", ["abc dx", "abc de"], False)
    a.merge(b)
    assert a.to_dict() == both.to_dict()


def test_first_queries_of_a_session_are_reported_apart_when_the_caller_says_which():
    r = QualityReport()
    r.add("g", "google", ["google"], seen=True, first=True)  # rr 1
    r.add("g", "gmail", ["google", "gmail"], seen=True, first=False)  # rr 1/2
    r.add("g", "gap", ["google"], seen=False, first=False)  # rr 0
    d = r.to_dict()
    assert d["first"]["1"]["mrr@10"] == pytest.approx(1.0) and d["first"]["overall"]["n"] == 1
    assert d["later"]["1"]["mrr@10"] == pytest.approx(0.25) and d["later"]["overall"]["n"] == 2
    assert d["all"]["overall"]["n"] == 3
    assert set(QualityReport().to_dict()) == {"all", "seen"}  # no split asked for, none shown
