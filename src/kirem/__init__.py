"""Kirem: a self-hostable WhatsApp Business API gateway and webhook router."""

__version__ = "0.1.0"
