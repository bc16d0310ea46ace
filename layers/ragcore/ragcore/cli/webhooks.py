"""``ragcore webhooks secret create|rotate``: a tenant's webhook signing secret, shown once.

Receivers verify each delivery's ``webhook-signature`` with it (README, "Completion webhooks").
After a rotation the old secret still signs for ``WEBHOOK_SECRET_GRACE_SECONDS`` (a second
signature in the same header, as Standard Webhooks allows), so a receiver can switch at leisure.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable


def add_parser(commands: Any, tenant_name: Callable[[str], str]) -> None:
    webhooks = commands.add_parser("webhooks", help="completion webhooks")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    secret = webhook_commands.add_parser("secret", help="a tenant's signing secret (shown once)")
    secret_commands = secret.add_subparsers(dest="secret_command", required=True)
    for name, help_text in (("create", "make the tenant's first secret"),
                            ("rotate", "replace it; the old one still signs during the grace period")):
        command = secret_commands.add_parser(name, help=help_text)
        command.add_argument("--tenant", type=tenant_name,
                             help="the API keys' tenant (default: jobs without one, as with AUTH_DISABLED)")
        command.add_argument("--local", action="store_true", help="the running `ragcore dev` stack's Valkey")


def run(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container
    from ragcore.local.attach import attach

    container = attach(queues=False) if args.local else get_container()  # secrets need Valkey only
    secrets = container.webhook_secrets
    who = f"tenant {args.tenant}" if args.tenant else "jobs without a tenant"
    if args.secret_command == "create":
        secret = secrets.create(args.tenant)
        if secret is None:
            print(f"{who} has a webhook secret already; `ragcore webhooks secret rotate` replaces it",
                  file=sys.stderr)
            return 1
        print(f"webhook signing secret for {who}; it is shown only now:")
    else:
        grace = container.settings.webhook_secret_grace_seconds
        secret = secrets.rotate(args.tenant, grace)
        print(f"new webhook signing secret for {who} (the old one still signs for {grace} s); shown only now:")
    print(secret)
    return 0
