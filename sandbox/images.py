"""Tiny valid images, so that products can point their image URLs at the sandbox.

There is no internet in tests and benchmarks, and shipping binary fixtures is clumsy, so the
sandbox encodes a baseline JPEG of one grey level on the fly (ITU T.81): every 8x8 block is flat,
which leaves only DC coefficients to encode and keeps the file near 200 bytes.
"""

from __future__ import annotations

import struct
import zlib

_IMAGE_SIZE = 64  # pixels per side; a multiple of the 8x8 block
_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of JPEG, PNG or GIF bytes (the formats the marketplaces accept), else None."""
    for signature, mime in _SIGNATURES.items():
        if data.startswith(signature):
            return mime
    return None


def sample_jpeg(name: str) -> bytes:
    """A small grey JPEG whose shade depends on `name`, so distinct names look distinct."""
    return solid_jpeg(40 + zlib.crc32(name.encode()) % 176)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _huffman_table(table_class_and_id: int, symbols: list[int], code_length: int) -> bytes:
    # All symbols get codes of one length; canonical codes then count up from 0 (T.81 Annex C).
    counts = [0] * 16
    counts[code_length - 1] = len(symbols)
    return _segment(0xFFC4, bytes([table_class_and_id, *counts, *symbols]))


class _BitWriter:
    def __init__(self) -> None:
        self._bits: list[int] = []

    def write(self, value: int, length: int) -> None:
        self._bits.extend((value >> shift) & 1 for shift in range(length - 1, -1, -1))

    def to_bytes(self) -> bytes:
        bits = self._bits + [1] * (-len(self._bits) % 8)  # pad with 1-bits (T.81 F.1.2.3)
        out = bytearray()
        for start in range(0, len(bits), 8):
            byte = int("".join(map(str, bits[start : start + 8])), 2)
            out.append(byte)
            if byte == 0xFF:
                out.append(0x00)  # byte stuffing, so data never looks like a marker
        return bytes(out)


def solid_jpeg(grey: int, size: int = _IMAGE_SIZE) -> bytes:
    """A baseline greyscale JPEG, `size` x `size` pixels, every pixel `grey` (0-255)."""
    if not 0 <= grey <= 255 or size <= 0 or size % 8:
        raise ValueError("grey must be 0-255 and size a positive multiple of 8")
    # With a quantisation table of ones, the DC coefficient of a flat block is 8 x (level - 128).
    dc = 8 * (grey - 128)
    category = abs(dc).bit_length()
    dc_symbols = sorted({0, category})
    dc_codes = {symbol: index for index, symbol in enumerate(dc_symbols)}

    bits = _BitWriter()
    for block in range((size // 8) ** 2):
        diff = dc if block == 0 else 0  # DC is coded as the difference from the previous block
        size_bits = abs(diff).bit_length()
        bits.write(dc_codes[size_bits], 2)
        if size_bits:
            bits.write(diff if diff > 0 else diff + (1 << size_bits) - 1, size_bits)
        bits.write(0, 1)  # end of block: every AC coefficient is zero

    header = b"".join(
        [
            b"\xff\xd8",
            _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xFFDB, b"\x00" + b"\x01" * 64),
            _segment(0xFFC0, struct.pack(">BHHB", 8, size, size, 1) + b"\x01\x11\x00"),
            _huffman_table(0x00, dc_symbols, 2),
            _huffman_table(0x10, [0x00], 1),
            _segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00"),
        ]
    )
    return header + bits.to_bytes() + b"\xff\xd9"
