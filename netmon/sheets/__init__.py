"""Inventories from the spreadsheets provinces keep: `netmon inventory import | export`."""
