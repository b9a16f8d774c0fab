"""Small sample files the simulator attaches when a customer "sends" media without giving a file.

Each is tiny and carries its format's real signature, so type sniffing and downloads work: a 1x1
PNG, a one-page PDF, an Ogg Opus stream of silence, an MP4 with an empty movie header and a 1x1
WebP. They are generated here rather than stored as binary files.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\x25\xd3\x66")  # filter byte + one green pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _pdf() -> bytes:
    stream = b"BT /F1 18 Tf 72 720 Td (Kirem sandbox sample document) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packet: bytes, *, sequence: int, granule: int, flags: int) -> bytes:
    segments = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = (
        b"OggS"
        + struct.pack("<BBqIII", 0, flags, granule, 0x4B49524D, sequence, 0)
        + bytes([len(segments)])
        + bytes(segments)
    )
    page = header + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _ogg_opus() -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    vendor = b"kirem-sandbox"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    silence = b"\xf8"  # one 20 ms frame code with no payload: decoded as silence
    return (
        _ogg_page(head, sequence=0, granule=0, flags=0x02)
        + _ogg_page(tags, sequence=1, granule=0, flags=0x00)
        + _ogg_page(silence, sequence=2, granule=312 + 960, flags=0x04)
    )


def _mp4() -> bytes:
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 0)
        + struct.pack(">IH10x", 0x00010000, 0x0100)
        + matrix
        + b"\x00" * 24
        + struct.pack(">I", 1),
    )
    return ftyp + box(b"moov", mvhd)


_WEBP_1X1 = bytes.fromhex("524946461a000000574542505650384c0d0000002f00000010071011118888fe0700")
"""A 1x1 lossless WebP (the customary feature-detection image)."""


SAMPLE_FILES: dict[str, tuple[str, str]] = {
    "image": ("image/png", "sample.png"),
    "document": ("application/pdf", "sample.pdf"),
    "audio": ("audio/ogg", "sample.ogg"),
    "video": ("video/mp4", "sample.mp4"),
    "sticker": ("image/webp", "sample.webp"),
}


@cache
def sample_bytes(kind: str) -> bytes:
    if kind == "sticker":
        return _WEBP_1X1
    return {"image": _png, "document": _pdf, "audio": _ogg_opus, "video": _mp4}[kind]()
