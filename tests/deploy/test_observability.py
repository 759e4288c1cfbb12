"""deploy/: the Grafana dashboard and the Prometheus alert rules read metrics the server
exports, so renaming a metric breaks this test before it breaks a dashboard or silences an
alert; and the rules file has what Prometheus needs (checked by promtool when installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import ROOT, LiveServer, built_sample_index  # noqa: F401 (a fixture)
from tests.server.client import ask, complete, ws_session

from .promql import metric_names, template_metric_names

DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "session-qac.json"
RULES = DEPLOY / "prometheus" / "qac-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "qac-alerts.test.yml"
#: Series Prometheus makes itself for every target; no server exports them.
PROMETHEUS_SERIES = frozenset({"up"})
#: What the operations brief asks every dashboard to show, by the metric that shows it.
MUST_SHOW = {
    "keystroke latency": "qac_completion_latency_seconds_bucket",
    "errors by code": "qac_errors_total",
    "refused connections by reason": "qac_refused_connections_total",
    "store breaker": "qac_store_breaker_open",
    "store failures": "qac_store_failures_total",
    "client throttles": "qac_client_throttles_total",
    "open connections": "qac_open_connections",
    "resident memory": "process_resident_memory_bytes",
}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}
_DURATION = re.compile(r"\d+[smhdwy]")


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_names() -> set[str]:
    board = dashboard()
    names = set()
    for panel in panels(board):
        for target in panel.get("targets", []):
            names |= metric_names(target["expr"])
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            names |= template_metric_names(query["query"])
    return names


def rule_names() -> set[str]:
    return {
        name
        for group in rules()["groups"]
        for rule in group["rules"]
        for name in metric_names(rule["expr"])
    }


def exported_names(text: str) -> set[str]:
    """Every series name a `/metrics` text can produce: families with their type's suffixes."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        names.update(s.name for s in family.samples)
    return names


@pytest.fixture(scope="module")
def served_names(built_sample_index: Path) -> set[str]:  # noqa: F811
    """The names a two-worker server exports once it has completed, stored and refused."""
    import asyncio

    async def traffic(server: LiveServer) -> None:
        async with ws_session(server.ws_url) as (ws, _):
            await complete(ws, "goo")
            await ask(ws, {"type": "submit", "id": 2, "query": "google"})

    with LiveServer(built_sample_index, workers=2) as server:
        asyncio.run(traffic(server))
        return exported_names(server.metrics())


def test_the_name_reader_finds_metrics_and_skips_functions_labels_and_variables() -> None:
    expr = (
        'sum by (code) (rate(qac_errors_total{code=~"a|b", job="$job"}[$__rate_interval]))'
        " / on (instance) group_left clamp_min(sum(rate(qac_requests_total[5m])), 1e-9) > 0.1"
    )
    assert metric_names(expr) == {"qac_errors_total", "qac_requests_total"}
    assert metric_names("time() - max(process_start_time_seconds) offset 5m") == {
        "process_start_time_seconds"
    }
    assert template_metric_names('label_values(qac_worker_info{job="$job"}, instance)') == {
        "qac_worker_info"
    }


def test_every_metric_the_dashboard_reads_is_exported_by_a_live_server(
    served_names: set[str],
) -> None:
    missing = dashboard_names() - served_names - PROMETHEUS_SERIES
    assert not missing, f"the dashboard reads metrics no server exports: {sorted(missing)}"


def test_every_metric_the_alert_rules_read_is_exported_by_a_live_server(
    served_names: set[str],
) -> None:
    missing = rule_names() - served_names - PROMETHEUS_SERIES
    assert not missing, f"alert rules read metrics no server exports: {sorted(missing)}"


def test_the_dashboard_shows_what_operators_asked_for() -> None:
    names = dashboard_names()
    assert {what: metric for what, metric in MUST_SHOW.items() if metric not in names} == {}


def test_the_dashboard_is_grafana_json_with_unique_panels_and_one_data_source_variable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(board):
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(metric_names(t["expr"]) for t in panel["targets"]), panel["title"]


def test_the_rules_file_has_the_fields_prometheus_needs() -> None:
    groups = rules()["groups"]
    assert isinstance(groups, list) and groups
    alerts = []
    for group in groups:
        assert isinstance(group["name"], str) and group["rules"], group
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"]), rule["alert"]
            assert isinstance(rule["expr"], str) and metric_names(rule["expr"]), rule["alert"]
            assert _DURATION.fullmatch(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in ("page", "warning", "info"), rule["alert"]
            assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]
            alerts.append(rule["alert"])
    assert len(alerts) == len(set(alerts)), "alert names are unique"


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; "
    "scripts/system_deps.sh installs it)",
)
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    for command in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]):
        result = subprocess.run(
            ["promtool", *command],
            cwd=RULES.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
