"""Adapters: each implements one interface from ``ragcore.ports`` on top of a vendor SDK."""
