"""Logs, metrics and traces. ``metrics.py`` names every metric once; the sinks (EMF in Lambda,
Prometheus offline) render that list; ``metered.py`` and ``tracing.py`` wrap adapters in
``bootstrap``, so domain and services stay free of any of it."""
