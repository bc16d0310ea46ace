"""Where the offline stack listens unless ``DEV_HOST`` and ``DEV_API_PORT`` say otherwise. The
settings take their defaults from here, and so does the HTTP client, which finds a local stack
without importing the server's settings."""

DEV_HOST = "127.0.0.1"
DEV_API_PORT = 8787
