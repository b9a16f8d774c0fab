"""Customer Setup Links: an agency's client connects their WhatsApp number through Embedded Signup."""
