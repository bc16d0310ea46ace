"""Use-cases. They take ports (``ragcore.ports``) and import no SDK."""
