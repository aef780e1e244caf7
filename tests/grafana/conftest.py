"""Dashboard tests: ``dashboard_query`` is every InfluxQL query in grafana/dashboards."""

from support.dashboards import influxql_queries


def pytest_generate_tests(metafunc):
    if "dashboard_query" in metafunc.fixturenames:
        queries = influxql_queries()
        metafunc.parametrize("dashboard_query", queries, ids=[q.id for q in queries])
