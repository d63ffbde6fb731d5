"""posthog-js' form-encoded capture bodies: ``data=<base64 JSON>`` and ``compression=lz64``.

Older posthog-js versions (and current ones when the server did not announce gzip
support, or for ``sendBeacon``) POST ``application/x-www-form-urlencoded`` bodies:

* ``data=<encodeURIComponent(base64(UTF-8 JSON))>`` (posthog-js' ``_base64Encode``),
* ``data=<encodeURIComponent(LZString.compressToBase64(JSON))>&compression=lz64``,

with ``ver``, ``_`` (a timestamp) and ``ip`` in the query string; ``compression`` may
be in the query string too. gzip-js bodies are raw gzip with ``?compression=gzip-js``
(handled by ``body.decode_body``).

LZ-String: no maintained PyPI package exists (``lzstring`` 1.0.4 is from 2018, needs
the Python-2 shim ``future`` and has no output bound, so a small body can expand
quadratically), so the decompressor is written here from the format: a bit stream read
in 6-bit base64 groups, codes of a growing width (2 bits at the start, 3 bits after),
0/1 = a literal 8-/16-bit UTF-16 code unit, 2 = end, otherwise a dictionary entry;
every step adds ``previous + entry[0]`` to the dictionary. The output is bounded by
the body limit; past it the request is a 413 like any other oversized body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final
from urllib.parse import parse_qs

from cxlens.api.errors import InvalidBody, PayloadTooLarge

FORM_TYPE: Final = "application/x-www-form-urlencoded"
_B64: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_VALUE: Final = {c: i for i, c in enumerate(_B64)}


def is_form(data: bytes, content_type: str | None) -> bool:
    """posthog-js' form bodies: by Content-Type, or by their ``data=`` start (a beacon
    Blob may lose its type on the way through a proxy). A body that starts like JSON is
    JSON whatever its label: ``curl -d`` labels everything form-encoded, and a form body
    starts with a field name, never with ``{`` or ``[``."""
    if data[:5] == b"data=":
        return True
    if content_type is None or not content_type.lower().startswith(FORM_TYPE):
        return False
    # an empty body is an empty body (curl -d '' labels it a form too)
    return data.lstrip(b" \t\r\n")[:1] not in (b"{", b"[", b"")


def form_data(body: bytes, query: dict[str, str], limit: int) -> bytes:
    """The JSON text carried by a form-encoded posthog-js body."""
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InvalidBody("form-encoded body is not ASCII 'name=value' pairs", field="body") from None
    values = form.get("data")
    if not values or not values[0]:
        raise InvalidBody("form-encoded body has no 'data' field; send posthog-js' data=... "
                          "or a JSON object", field="data")
    # '+' of base64 arrives as a space when a client did not percent-encode it
    text = values[0].replace(" ", "+")
    compression = (form.get("compression") or [query.get("compression", "")])[0].lower()
    if compression == "lz64":
        return _utf8(lz64_decompress(text, limit))
    if compression not in ("", "base64"):
        raise InvalidBody(f"form compression {compression[:20]!r} is not supported; use base64 "
                          "or lz64 (or a gzip-js body)", field="compression")
    if len(text) > limit * 4 // 3 + 4:
        raise PayloadTooLarge(f"decoded body is more than the limit of {limit} bytes", field="data")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBody("'data' is not base64", field="data") from None


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # JS strings are UTF-16: join surrogate pairs first
        pass
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le").encode()
    except UnicodeError:
        raise InvalidBody("lz64 data is not valid UTF-16 text", field="data") from None


class _Bits:
    """Reads LZ-String's bit stream from base64 text, low bit of each value first."""

    __slots__ = ("_mask", "_pos", "_text", "_val")

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._val = self._next()
        self._mask = 32

    @property
    def exhausted(self) -> bool:
        return self._pos > len(self._text)

    def _next(self) -> int:
        pos = self._pos
        self._pos += 1
        if pos >= len(self._text):
            return 0  # read past the end: the caller checks ``exhausted``
        value = _B64_VALUE.get(self._text[pos])
        if value is None:
            raise InvalidBody(f"lz64 data has a character outside base64 at {pos}", field="data")
        return value

    def read(self, width: int) -> int:
        out = 0
        for shift in range(width):
            if self._val & self._mask:
                out |= 1 << shift
            self._mask >>= 1
            if self._mask == 0:
                self._mask = 32
                self._val = self._next()
        return out


def lz64_decompress(text: str, limit: int) -> str:
    """``LZString.decompressFromBase64`` with at most ``limit`` characters of output."""
    if not text:
        raise InvalidBody("lz64 'data' is empty", field="data")
    bits = _Bits(text)
    dictionary: list[str] = ["", "", ""]
    first = bits.read(2)
    if first == 2:
        return ""
    if first > 2:
        raise InvalidBody("lz64 data does not start with a literal", field="data")
    w = chr(bits.read(8 if first == 0 else 16))
    dictionary.append(w)
    out = [w]
    size = 1
    width = 3
    enlarge_in = 4
    while True:
        if bits.exhausted:
            raise InvalidBody("lz64 data ends without its end marker", field="data")
        code = bits.read(width)
        if code == 2:
            return "".join(out)
        if code < 2:
            dictionary.append(chr(bits.read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << width
                width += 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = w + w[0]
        else:
            raise InvalidBody("lz64 data refers to an unknown dictionary entry", field="data")
        size += len(entry)
        if size > limit:
            raise PayloadTooLarge(f"decompressed body is more than the limit of {limit} bytes",
                                  field="body")
        out.append(entry)
        dictionary.append(w + entry[0])
        enlarge_in -= 1
        w = entry
        if enlarge_in == 0:
            enlarge_in = 1 << width
            width += 1
