"""netmon: a monitoring agent for rural connectivity (communes, villages, BTS links, office PCs)."""

__version__ = "0.1.0"
