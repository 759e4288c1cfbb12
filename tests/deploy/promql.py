"""The metric names a PromQL expression reads: enough PromQL to check dashboards and rules.

Not a parser: string literals, label matchers `{...}`, ranges `[...]` and grouping clauses
(`by (...)`, `on (...)`, ...) are cut out, and what is left that looks like a name, is not
called like a function and is not a keyword, is a metric name.
"""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset", "inf", "nan"}
)  # fmt: skip
#: Grafana's `label_values(metric{...}, label)` in a template variable's query.
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr: str) -> set[str]:
    """Names of the series `expr` selects (e.g. `rate(x_total[5m]) / y` -> {x_total, y})."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _NAME.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before in "$.":  # 1e-9, Grafana variables
            continue
        if text[match.end() :].lstrip().startswith("(") or match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def template_metric_names(query: str) -> set[str]:
    """The metric a Grafana `label_values(...)` variable query reads."""
    return set(_LABEL_VALUES.findall(query))
