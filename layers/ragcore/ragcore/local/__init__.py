"""The offline stack: embedded services and a runner that calls the same Lambda handlers."""
