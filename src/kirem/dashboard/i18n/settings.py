"""Messages of the settings page."""

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "settings.saved": "Saved.",
        "settings.allowlist": "IP allowlist",
        "settings.allowlist_help": (
            "Calls with this project's API keys are accepted only from these addresses (one CIDR per line); "
            "empty accepts every address."
        ),
        "settings.your_address": "You are connected from",
        "settings.allowlist_plan": "IP allowlists are not part of the {plan} plan.",
        "settings.cidrs": "Allowed addresses",
        "settings.lockout": (
            "would lock you out: your address {address} is not in the list. "
            "Add it (or a range holding it) first."
        ),
        "settings.plan": "Plan: {plan}",
        "settings.unlimited": "unlimited",
        "settings.plan_change": "The operator changes plans (kirem accounts set-plan).",
        "settings.usage": "Usage of the account in {month}",
        "settings.month": "Month",
        "settings.show": "Show",
        "settings.attempts": "Attempts",
        "settings.bill": "Estimated bill:",
        "settings.bill_parts": "plan {fee} + usage {usage}",
        "limit.projects": "Projects",
        "limit.channels": "Active channels",
        "limit.outbound_per_day": "Outbound messages per day",
        "limit.retention_days": "Log retention (days)",
        "limit.webhook_targets": "Webhook targets",
        "limit.routing_rules": "Routing rules",
        "limit.analytics_api": "Analytics API",
        "limit.ip_allowlist": "IP allowlist",
        "limit.customer_setup_links": "Customer Setup Links",
        "limit.dedicated_outbound_ip": "Dedicated outbound IP",
        "limit.dedicated_mcp": "Dedicated MCP endpoint",
        "limit.sla_thresholds": "SLA thresholds",
    },
    "id": {
        "settings.saved": "Tersimpan.",
        "settings.allowlist": "Daftar IP yang diizinkan",
        "settings.allowlist_help": (
            "Panggilan dengan kunci API proyek ini hanya diterima dari alamat ini (satu CIDR per baris); "
            "kosong berarti semua alamat diterima."
        ),
        "settings.your_address": "Anda terhubung dari",
        "settings.allowlist_plan": "Daftar IP tidak termasuk dalam paket {plan}.",
        "settings.cidrs": "Alamat yang diizinkan",
        "settings.lockout": (
            "akan mengunci Anda: alamat Anda {address} tidak ada di daftar. Tambahkan dulu (atau rentang "
            "yang memuatnya)."
        ),
        "settings.plan": "Paket: {plan}",
        "settings.unlimited": "tanpa batas",
        "settings.plan_change": "Operator yang mengganti paket (kirem accounts set-plan).",
        "settings.usage": "Pemakaian akun pada {month}",
        "settings.month": "Bulan",
        "settings.show": "Tampilkan",
        "settings.attempts": "Percobaan",
        "settings.bill": "Perkiraan tagihan:",
        "settings.bill_parts": "paket {fee} + pemakaian {usage}",
        "limit.projects": "Proyek",
        "limit.channels": "Kanal aktif",
        "limit.outbound_per_day": "Pesan keluar per hari",
        "limit.retention_days": "Penyimpanan log (hari)",
        "limit.webhook_targets": "Target webhook",
        "limit.routing_rules": "Aturan routing",
        "limit.analytics_api": "API analitik",
        "limit.ip_allowlist": "Daftar IP",
        "limit.customer_setup_links": "Customer Setup Link",
        "limit.dedicated_outbound_ip": "IP keluar khusus",
        "limit.dedicated_mcp": "Endpoint MCP khusus",
        "limit.sla_thresholds": "Ambang SLA",
    },
}
