"""netmon: a monitoring agent for rural connectivity (communes, villages, BTS links, office PCs)."""

__version__ = "0.3.1"
"""The one place for the version; pyproject.toml reads it, CHANGELOG.md says what each one changed."""

from netmon.signals import hold_hangup_early  # noqa: E402 (after the version, which tools read)

# First thing on `netmon run`: a SIGHUP during the slow imports that follow must not end the daemon.
hold_hangup_early()
