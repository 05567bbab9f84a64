"""Probe kinds: what each `prober:` of a profile is, declared in one place (see `registry.py`).

A kind declares its check model, the device key its target needs, whether it measures a
village's coverage or a service, its deadline rule and its prober (imported only when a check
uses it). Config validation, error hints, target checks, the services analysis, the status view
and the scheduler's deadlines all read the registry, so a new kind is its own module plus one
registry line.
"""
