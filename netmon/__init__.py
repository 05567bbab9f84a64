"""netmon: a monitoring agent for rural connectivity (communes, villages, BTS links, office PCs)."""

__version__ = "0.2.0"
"""The one place for the version; pyproject.toml reads it, CHANGELOG.md says what each one changed."""
