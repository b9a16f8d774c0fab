"""A faithful emulator of the Meta WhatsApp Cloud API subset Kirem uses, with a customer simulator."""

from kirem.sandbox.app import create_sandbox_app
from kirem.sandbox.messages import UNDELIVERABLE_PREFIX
from kirem.sandbox.provisioning import ProvisionedNumber, provision_number, revoke_number
from kirem.sandbox.runtime import MOUNT_PATH, SandboxRuntime
from kirem.sandbox.webhooks import resolve_app_secret

__all__ = [
    "MOUNT_PATH",
    "UNDELIVERABLE_PREFIX",
    "ProvisionedNumber",
    "SandboxRuntime",
    "create_sandbox_app",
    "provision_number",
    "resolve_app_secret",
    "revoke_number",
]
