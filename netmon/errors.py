"""netmon's one exception tree: every error netmon raises on purpose is a `NetmonError`.

    NetmonError                         exit code (netmon/cli.py, EXIT_CODES)
    ├── ConfigurationError              2  the config, the inventory or the command line is wrong
    │   ├── ConfigError                    config/errors.py: every problem of netmon.yaml, with file:line
    │   ├── FileProblem                    config/files.py: a config, profile or key file cannot be read
    │   ├── PlanError                      scheduler.py: the checks cannot be planned (bad interval, ...)
    │   ├── SheetError, ImportRefused      sheets/: the inventory spreadsheet is unreadable or refused
    │   ├── Fallback                       config/yamlevents.py: a YAML file needs the composer (never leaves load_yaml)
    │   └── TargetError                    ui/probe.py, notify/maintenance.py: a name matches no device (or several)
    ├── ProbeError                      1  a prober cannot work at all (not one target's failure)
    │   ├── IcmpPermissionError            probers/icmp_socket.py: no ICMP socket (ping_group_range, CAP_NET_RAW)
    │   ├── ResolveError                   probers/icmp.py: a host name gave no address
    │   └── WireError, BadValue, TransportClosed   probers/snmp_*: a malformed or lost SNMP exchange
    ├── StoreError                      1  the SQLite store cannot be opened or written
    │   └── WorkerLost                     bookkeeping.py: the bookkeeping process ended during a job
    ├── OutputError                     1  an output (InfluxDB, ...) cannot deliver
    │   ├── Halt                           sinks/influx.py: delivery stops for now (server fault, outage)
    │   ├── CentralError                   central/influxql.py: the central InfluxDB cannot answer a query
    │   └── SendError                      notify/channels.py: a notification channel refused a message
    └── LabError                        1  lab/netns.py: a lab step failed (its command and output)
        └── OutsideLabError                guard.py: a lab config run outside the lab's namespace

A failing target is never an exception: probers return a result with a status and a reason.
Classes keep their historical standard bases too (`IcmpPermissionError` is still a
`PermissionError`, `PlanError` a `ValueError`), so existing `except` clauses keep working.
"""

from __future__ import annotations


class NetmonError(Exception):
    """Base of every error netmon raises on purpose; the message is for the operator."""


class ConfigurationError(NetmonError):
    """What the user wrote (config, inventory, command line) cannot be used."""


class ProbeError(NetmonError):
    """A prober cannot do its job at all."""


class StoreError(NetmonError):
    """The store cannot be used."""


class OutputError(NetmonError):
    """An output cannot be used."""


class LabError(NetmonError):
    """A lab step failed; the message names the command and what it printed."""


__all__ = ["ConfigurationError", "LabError", "NetmonError", "OutputError", "ProbeError", "StoreError"]
