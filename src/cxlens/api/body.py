"""Decoding a request body safely: size limits before and after decompression."""

from __future__ import annotations

import base64
import functools
import io
import zlib
from typing import Any

import orjson
import zstandard

from cxlens.api.errors import InvalidBody, PayloadTooLarge, UnsupportedEncoding
from cxlens.api.posthog_form import form_data, is_form


def _inflate(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InvalidBody(f"body is not valid {name}: {exc}", field="body") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"decompressed body is more than the limit of {limit} bytes",
                              field="body")
    if not d.eof:
        raise InvalidBody(f"{name} body is truncated", field="body")
    return out


def decompress(data: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate, zstd), never producing more than ``limit``."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return data
    if enc in ("gzip", "x-gzip"):
        return _inflate(data, 31, limit, "gzip")
    if enc == "deflate":
        # zlib-wrapped per RFC 9110; some clients send raw deflate
        try:
            return _inflate(data, 15, limit, "deflate")
        except InvalidBody:
            return _inflate(data, -15, limit, "deflate")
    if enc == "zstd":
        try:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                out = reader.read(limit + 1)
        except zstandard.ZstdError as exc:
            raise InvalidBody(f"body is not valid zstd: {exc}", field="body") from None
        if len(out) > limit:
            raise PayloadTooLarge(f"decompressed body is more than the limit of {limit} bytes",
                                  field="body")
        return out
    raise UnsupportedEncoding(f"Content-Encoding {enc[:30]!r} is not supported; use gzip, "
                              "deflate, zstd or none", field="Content-Encoding")


def parse_json(data: bytes) -> Any:
    if not data or data.isspace():  # not ``strip()``: that copied every body
        raise InvalidBody("request body is empty; send a JSON object", field="body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            # orjson says "surrogates not allowed" at char 0 for any bad byte anywhere
            raise InvalidBody(f"body is not UTF-8: byte 0x{data[bad.start]:02x} at offset {bad.start} "
                              "(JSON must be sent as UTF-8)", field="body") from None
        raise InvalidBody(f"body is not valid JSON: {exc}", field="body") from None


def decode_body(raw: bytes, content_encoding: str | None, content_type: str | None,
                query: dict[str, str], limit: int) -> Any:
    """A request body -> JSON value: Content-Encoding, posthog-js' ``compression``
    (query string or form field) and its form-encoded ``data=`` bodies."""
    encoding = content_encoding
    if encoding is None and query.get("compression") == "gzip-js":
        encoding = "gzip"  # posthog-js names the compression in the query string
    data = decompress(raw, encoding, limit)
    if is_form(data, content_type):
        data = form_data(data, query, limit)
    return parse_json(data)


@functools.lru_cache(maxsize=256)  # an SDK sends the same header with every request
def basic_user(header: str | None) -> str | None:
    """The user name of an HTTP Basic Authorization header (Segment's write key)."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None
