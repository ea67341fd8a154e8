"""Small, valid files for generated attachments (PDF, PNG, plain text) and one large BMP.

Everything is deterministic. The large image is made on demand (``big_bmp_body``) and never kept,
so an account that holds it costs no memory until someone downloads it.
"""

from __future__ import annotations

import struct
import zlib

from .mime import Body


def pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF 1.4 showing ``title`` and ``lines`` in Helvetica, with a correct xref table."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    shown = [f"BT /F1 18 Tf 72 760 Td ({escape(title)}) Tj ET"]
    shown += [f"BT /F1 11 Tf 72 {730 - 16 * n} Td ({escape(line)}) Tj ET" for n, line in enumerate(lines)]
    stream = "\n".join(shown).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG with a gradient that depends on ``seed`` (so two images differ)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(
                ((x * 255 // width + seed) % 256, (y * 255 // height) % 256, (seed * 37 + x + y) % 256)
            )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


BIG_BMP_SIDE = 1900  # 24-bit pixels: a little over 10 MB


def _bmp_row_bytes(side: int) -> int:
    return (side * 3 + 3) // 4 * 4


def _big_bmp(side: int) -> bytes:
    row_bytes = _bmp_row_bytes(side)
    pixels = row_bytes * side
    header = b"BM" + struct.pack("<IHHI", 54 + pixels, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, pixels, 2835, 2835, 0, 0)
    ramp = bytes(range(256)) * (row_bytes // 256 + 2)
    rows = b"".join(ramp[y % 256 : y % 256 + row_bytes] for y in range(side))
    return header + info + rows


def big_bmp_body(side: int = BIG_BMP_SIDE) -> Body:
    """A lazy body: the image is drawn each time it is read."""
    return Body(make=lambda: _big_bmp(side), size=54 + _bmp_row_bytes(side) * side)
