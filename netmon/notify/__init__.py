"""Notifications with a durable outbox, and maintenance windows (issue 18).

    store records (flags, outages, service results)
        -> events.py     events worth a message, one stable key each (parents suppress children)
        -> analysis.maintenance  muted when a window covers them (recorded, never sent)
        -> compose.py    routed to channels, grouped per commune, flood guard
        -> outbox.py     committed, then sent in order with retries and backoff
        -> channels.py   Apprise URLs and templated JSON webhooks
    component.py runs it in the daemon; cli.py is `netmon notify|mute|maintenance`; texts.py holds
    every word in Vietnamese and English.
"""
