"""Views across agents, computed from what they forwarded to InfluxDB (nothing here runs in the daemon)."""
