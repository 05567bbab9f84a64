"""netmon: a monitoring agent for rural connectivity (communes, villages, BTS links, office PCs)."""

from netmon.signals import hold_hangup_early

__version__ = "0.1.0"

# First thing on `netmon run`: a SIGHUP during the slow imports that follow must not end the daemon.
hold_hangup_early()
