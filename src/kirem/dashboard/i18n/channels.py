"""Messages of the channels page."""

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "channels.kind": "Kind",
        "channels.kind_live": "live",
        "channels.kind_sandbox": "sandbox",
        "channels.number": "Number",
        "channels.ids": "Phone number id",
        "channels.active": "active",
        "channels.quality": "Quality",
        "channels.quality_unknown": "unknown",
        "channels.none": "No channel yet.",
        "channels.connected": "Channel {name} connected.",
        "channels.verified_as": "Meta knows it as {name} (WABA {waba}).",
        "channels.connect_live": "Connect a live number",
        "channels.connect_live_help": (
            "From Meta's WhatsApp Manager: the phone number id, the WhatsApp Business Account id and a "
            "system user's access token. Kirem checks them with Meta before saving."
        ),
        "channels.phone_number_id": "Phone number id",
        "channels.waba_id": "WhatsApp Business Account id",
        "channels.access_token": "Access token",
        "channels.display_number": "Display number (optional)",
        "channels.verify": "Check with Meta before saving",
        "channels.subscribe_app": "Subscribe the app to this account's webhooks if it is not yet",
        "channels.connect": "Connect",
        "channels.sandbox_title": "Sandbox number",
        "channels.sandbox_help": "A number of the built-in Meta emulator, for trying Kirem without Meta.",
        "channels.add_sandbox": "Add a sandbox number",
        "channels.links_title": "Customer Setup Links",
        "channels.links_help": (
            "A link your customer opens to connect their own number through Meta's Embedded Signup; "
            "it becomes a new project of this account."
        ),
        "channels.links_plan": "Customer Setup Links are not part of the {plan} plan.",
        "channels.client_name": "Customer name",
        "channels.redirect_url": "Back to (after signup)",
        "channels.expires_hours": "Valid for (hours)",
        "channels.link_hours_range": "must be from 1 to 720 hours",
        "channels.coexistence": "Keep using the WhatsApp Business app on the number (coexistence)",
        "channels.create_link": "Create link",
        "channels.link_created": "Send this link to your customer; it is shown only this once.",
        "channels.link_mode": "Mode",
        "channels.expires": "Expires",
    },
    "id": {
        "channels.kind": "Jenis",
        "channels.kind_live": "live",
        "channels.kind_sandbox": "sandbox",
        "channels.number": "Nomor",
        "channels.ids": "ID nomor telepon",
        "channels.active": "aktif",
        "channels.quality": "Kualitas",
        "channels.quality_unknown": "tidak diketahui",
        "channels.none": "Belum ada kanal.",
        "channels.connected": "Kanal {name} terhubung.",
        "channels.verified_as": "Meta mengenalnya sebagai {name} (WABA {waba}).",
        "channels.connect_live": "Hubungkan nomor live",
        "channels.connect_live_help": (
            "Dari WhatsApp Manager Meta: ID nomor telepon, ID WhatsApp Business Account, dan token akses "
            "system user. Kirem memeriksanya ke Meta sebelum menyimpan."
        ),
        "channels.phone_number_id": "ID nomor telepon",
        "channels.waba_id": "ID WhatsApp Business Account",
        "channels.access_token": "Token akses",
        "channels.display_number": "Nomor tampilan (opsional)",
        "channels.verify": "Periksa ke Meta sebelum menyimpan",
        "channels.subscribe_app": "Langganankan aplikasi ke webhook akun ini jika belum",
        "channels.connect": "Hubungkan",
        "channels.sandbox_title": "Nomor sandbox",
        "channels.sandbox_help": "Nomor dari emulator Meta bawaan, untuk mencoba Kirem tanpa Meta.",
        "channels.add_sandbox": "Tambah nomor sandbox",
        "channels.links_title": "Customer Setup Link",
        "channels.links_help": (
            "Tautan yang dibuka pelanggan Anda untuk menghubungkan nomor mereka sendiri lewat Embedded "
            "Signup Meta; hasilnya menjadi proyek baru di akun ini."
        ),
        "channels.links_plan": "Customer Setup Link tidak termasuk dalam paket {plan}.",
        "channels.client_name": "Nama pelanggan",
        "channels.redirect_url": "Kembali ke (setelah pendaftaran)",
        "channels.expires_hours": "Berlaku selama (jam)",
        "channels.link_hours_range": "harus antara 1 sampai 720 jam",
        "channels.coexistence": "Tetap memakai aplikasi WhatsApp Business di nomor ini (koeksistensi)",
        "channels.create_link": "Buat tautan",
        "channels.link_created": "Kirim tautan ini ke pelanggan Anda; tautan hanya ditampilkan sekali.",
        "channels.link_mode": "Mode",
        "channels.expires": "Kedaluwarsa",
    },
}
