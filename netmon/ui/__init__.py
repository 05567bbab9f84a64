"""Terminal output: the live status view, one-shot probe output, reports, progress."""
