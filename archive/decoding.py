"""Text of unknown encoding, as French documents come: bytes to clean Unicode, or a refusal with a reason.

UTF-8 with or without a byte-order mark, UTF-16/32 with one, and otherwise the encoding a detector finds,
with French single-byte text told apart by its own rule (a detector confuses the Western code pages).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from .errors import RejectedInput

_WESTERN = frozenset(
    "cp1252 windows-1252 latin_1 iso8859_1 iso8859_2 iso8859_3 iso8859_4 iso8859_9 iso8859_10 iso8859_13 "
    "iso8859_14 iso8859_15 iso8859_16 cp1250 cp1254 cp1257 mac_roman mac_latin2 mac_iceland cp850 cp858 "
    "cp437 cp863 cp1140 hp_roman8".split()
)
"""Latin single-byte encodings a detector may confuse with French ones: French text is read by its own rule."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode(name: str, data: bytes) -> tuple[str, str]:
    """Decode text of unknown encoding: UTF-8 (with or without BOM), UTF-16/32 with BOM, or a detected one.

    French single-byte text is told apart by the bytes that differ: 0x80-0x9F are printable only in
    cp1252 (’ œ € …); without them, ¤/½/¼ bytes mean ISO-8859-15 (€ œ Œ); otherwise Latin-1.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return _clean_text(name, data.decode(encoding)), encoding
            except UnicodeDecodeError:
                raise RejectedInput(
                    name, "undecodable", f"not valid {encoding} despite its byte-order mark"
                ) from None
    if b"\x00" in data:
        raise RejectedInput(name, "binary", "binary content, not text")
    try:
        return _clean_text(name, data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise RejectedInput(name, "undecodable", "text in an unknown encoding: could not decode it")
    encoding = best.encoding
    if encoding in _WESTERN:
        if any(0x80 <= b <= 0x9F for b in data) and _decodes(data, "cp1252"):
            encoding = "cp1252"
        elif any(b in (0xA4, 0xBC, 0xBD, 0xBE, 0xA6, 0xA8, 0xB4, 0xB8) for b in data):
            encoding = "iso8859_15"
        else:
            encoding = "latin_1"
    return _clean_text(name, data.decode(encoding)), encoding


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _clean_text(name: str, text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if text.startswith("\ufeff"):
        text = text[1:]
    controls = len(_CONTROL.findall(text))
    if controls and controls > max(3, len(text) // 200):
        raise RejectedInput(name, "binary", "binary content, not text")
    return _CONTROL.sub("", text)
