"""Outputs that forward stored results elsewhere (InfluxDB)."""
