"""Pure domain code: no I/O, no SDK imports."""
