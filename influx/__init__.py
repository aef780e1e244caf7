"""InfluxDB: the line-protocol encoder, the HTTP client and InfluxQL quoting (the only HTTP to InfluxDB)."""
