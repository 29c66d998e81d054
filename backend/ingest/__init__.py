"""`pilotshare ingest`: MQTT telemetry into InfluxDB, twin state and alarms into the SQL database."""
