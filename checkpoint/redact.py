"""Secrets masked wherever settings, URLs or error messages are printed, shown or logged.

Three tools, one rule (a secret never leaves the process in clear):

- ``mask_url(value)``: a URL with its password (``scheme://user:***@host``)
  and its secret query parameters (``?password=***``) masked; a libpq
  ``key=value`` string with ``password=***``. Any other string is returned as
  it is.
- ``mask_settings(data)``: a settings dictionary (``Settings.model_dump()``)
  with every secret-named key (``secret_key``, ``*_secret``, ``*password*``,
  ``*token*``) replaced by ``********`` and every URL passed through
  ``mask_url`` (database URLs, an RTSP camera with a login, webhooks).
- ``scrub(text, *urls)``: an error message or log line with the passwords of
  ``urls`` (raw, percent-encoded and decoded) and any URL in it masked, for
  messages built from a library's exception text.
"""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
SETTING_MASK = "********"
SECRET_NAME = re.compile(r"secret|passw|pwd|token|api_?key|credential|private", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_DSN_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_MIN_SCRUB = 4  # shorter "passwords" would mangle every message they appear in by chance


def mask_url(value: str) -> str:
    """``value`` with the password of a URL (or a libpq DSN) masked; other strings unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if "://" not in value:
        return _DSN_PASSWORD.sub(lambda m: m.group(1) + MASK, value) if "=" in value else value
    try:
        parts = urlsplit(value)
    except ValueError:  # unparseable (e.g. a bad IPv6 literal): mask whatever sits between "user:" and "@"
        return re.sub(r"(://[^:/@]*:)[^/]*@", lambda m: m.group(1) + MASK + "@", value)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")  # the last "@": a password may hold an unescaped one
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_NAME.search(key) for key, _ in pairs):
            query = urlencode([(key, MASK if SECRET_NAME.search(key) else item) for key, item in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return value
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_settings(data: Any) -> Any:
    """A copy of a settings structure (dicts, lists, strings) with every secret masked."""
    if isinstance(data, dict):
        masked = {}
        for key, value in data.items():
            if isinstance(key, str) and SECRET_NAME.search(key) and isinstance(value, str):
                masked[key] = SETTING_MASK if value else value
            else:
                masked[key] = mask_settings(value)
        return masked
    if isinstance(data, (list, tuple)):
        return type(data)(mask_settings(item) for item in data)
    if isinstance(data, str):
        return mask_url(data)
    return data


def url_secrets(url: str) -> list[str]:
    """The password of ``url`` in the forms an error message may quote it (raw, encoded, decoded)."""
    found: list[str] = []
    if not url:
        return found
    try:
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        if at and ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        found += [item for key, item in parse_qsl(parts.query) if SECRET_NAME.search(key)]
    except ValueError:
        pass
    found += [m.group(2).strip("'") for m in _DSN_PASSWORD.finditer(url)] if "://" not in url else []
    forms: list[str] = []
    for secret in found:
        for form in (secret, unquote(secret), quote(unquote(secret), safe=""), quote_plus(unquote(secret))):
            if len(form) >= _MIN_SCRUB and form not in forms:
                forms.append(form)
    return sorted(forms, key=len, reverse=True)  # longest first: no partial replacement of a longer form


def scrub(text: str, *urls: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the passwords of ``urls`` (and ``secrets``) and any URL in it masked."""
    if not text:
        return text
    forms = [form for url in urls for form in url_secrets(url)]
    forms += [secret for secret in secrets if secret and len(secret) >= _MIN_SCRUB]
    for form in sorted(set(forms), key=len, reverse=True):
        text = text.replace(form, MASK)
    text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    return _DSN_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
