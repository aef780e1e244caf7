"""What the tests share (importable as `support`, tests/ is on pytest's pythonpath).

One module per concern: `clock` (the hand-moved test clock), `waiting`
(wait on a condition with a deadline), `postgres` (a throwaway PostgreSQL
database), `sqlite` (a migrated SQLite file, copied from a template), `processes` (the session's Mosquitto and InfluxDB, `faultline`
children), `publishing` (MQTT publish with QoS 1), `mqtt_client` (an MQTT 5
client that records the broker's answers), `incidents` (simulated incidents
end to end), `tickets` (alerts as the ticket stage receives them),
`http_server` (a quiet local HTTP server for transport tests), `dashboards` (the
Grafana dashboards as data), `fleet_points` (detections for the live dashboard test).
"""
