"""Analysis over the store: rollups, village stability, cause attribution, PC aging, services."""
