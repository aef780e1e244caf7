"""InfluxQL quoting (placeholder replaced by the influx client module)."""


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier.

    >>> quote_ident('my "db"')
    '"my \\\\"db\\\\""'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
