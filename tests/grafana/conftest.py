"""Dashboard tests: ``dashboard_query`` is every InfluxQL query in grafana/dashboards."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grafana_dashboards import influxql_queries  # noqa: E402


def pytest_generate_tests(metafunc):
    if "dashboard_query" in metafunc.fixturenames:
        queries = influxql_queries()
        metafunc.parametrize("dashboard_query", queries, ids=[q.id for q in queries])
