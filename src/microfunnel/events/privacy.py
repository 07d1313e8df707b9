"""Privacy before storage: consent, PII scrubbing, IP truncation and user-id hashing.

Applied to every event after validation and before the spool, so nothing identifying is ever
written that the shopper did not agree to::

    >>> from microfunnel.events.model import Event
    >>> event = Event(event="sign_up", properties={"note": "mail me at ada@example.com"},
    ...               context={"ip": "203.0.113.77"})
    >>> event = apply_privacy(event, PrivacySettings())
    >>> event.properties["note"], event.context["ip"]
    ('mail me at [email]', '203.0.113.0')

Scrubbing finds e-mail addresses, phone numbers (international ``+...`` numbers and the usual
national layouts, never bare digit runs, which are ids) and payment card numbers (13 to 19 digits,
spaces or dashes allowed, a card-network prefix and a valid Luhn check digit, and not a valid
GTIN, the barcode product ids use). URL query parameters named like personal data (``email``,
``phone``, ``name``, ``address``, ...) are redacted whatever they hold. Scrubbing is idempotent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, unquote_plus

from microfunnel.errors import ConfigError
from microfunnel.events.model import Event

__all__ = ["PrivacySettings", "apply_privacy", "hash_user_id", "scrub_text", "truncate_ip"]

EMAIL, PHONE, CARD, REDACTED = "[email]", "[phone]", "[card]", "[redacted]"

# Context keys that hold no free text, or are handled on their own.
_CONTEXT_SKIP = frozenset({"ip", "user_agent", "consent", "library", "device", "source", "is_bot"})
_IDENTIFYING_CONTEXT = ("ip", "user_agent")
_NO_SKIP: frozenset[str] = frozenset()

# Query parameters whose value is personal data whatever it looks like.
PII_PARAMS = frozenset(
    {
        *("email", "e_mail", "mail", "email_address", "phone", "phone_number", "tel", "mobile"),
        *("name", "first_name", "firstname", "last_name", "lastname", "full_name", "fullname"),
        *("surname", "address", "street", "address1", "address2", "password", "pass", "pwd"),
        *("ssn", "card", "card_number", "cc", "cc_number", "iban", "dob", "birthday"),
    }
)

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# A run of 13 or more digits with single spaces or dashes between them; the card number is
# looked for among its groups (a card may sit next to other numbers), see _replace_card.
_CARD = r"(?<![\w.-])\d(?:[ -]?\d){12,}(?!\w|\.\d)"
_PHONE = "|".join(
    (
        # +44 20 7946 0958, +1 (415) 555-2671, +4915123456789
        r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?![\w-])",
        # (415) 555-2671
        r"(?<![\w)])\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}(?![\w-])",
        # 415-555-2671, 415.555.2671, 415 555 2671
        r"(?<![\w.-])\d{3}(?P<sep>[ .-])\d{3}(?P=sep)\d{4}(?!\w|[.-]\d)",
        # 020 7946 0958, 0151 2345 6789: national numbers with a trunk 0
        r"(?<![\w.-])0\d{2,4} \d{3,4} \d{3,4}(?!\w|[.-]\d)",
    )
)
# A query parameter named like personal data, with a value.
_PII_PARAM = re.compile(
    r"(?:^|[&;])(?:" + "|".join(sorted(PII_PARAMS)).replace("_", "[_-]?") + ")=[^&;#]",
    re.IGNORECASE,
)
# Cards first (their digit groups would otherwise be read as phones), then e-mails and phones.
_CARD_RUN = re.compile(_CARD)
_PII = re.compile(f"(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")
_NON_DIGIT = re.compile(r"\D")
_DIGITS = re.compile(r"\d+")
# The characters a string needs before any of the patterns can match it.
_MAYBE_PII = re.compile(r"@|%40|\d\D?\d\D?\d\D?\d\D?\d")


@dataclass
class PrivacySettings:
    """What to do to every event. ``salt`` is per project and required to hash user ids."""

    scrub_pii: bool = True
    truncate_ip: bool = True
    hash_user_ids: bool = False
    salt: str | None = None

    def __post_init__(self) -> None:
        if self.hash_user_ids and not self.salt:
            raise ConfigError(
                "hash_user_ids needs a salt: set a long random per-project salt, and keep it, "
                "or the same user gets a new id.",
                field="salt",
            )


def apply_privacy(
    event: Event, settings: PrivacySettings, *, clean_properties: bool = False
) -> Event:
    """Make ``event`` safe to store; it is changed in place and returned.

    ``clean_properties`` says the caller knows that scrubbing would leave ``event.properties``
    as they are (it has scrubbed the same values before), so they are not walked again.
    """
    context = event.context
    consent = context.get("consent")
    if consent is not None and _consent_denied(consent):
        event.anonymous_id = event.user_id = event.session_id = None
        context = {k: v for k, v in context.items() if k not in _IDENTIFYING_CONTEXT}
        context["consent_denied"] = True
    elif settings.truncate_ip and "ip" in context:
        ip = context["ip"]
        truncated = truncate_ip(ip) if isinstance(ip, str) else None
        if truncated is None:
            context = {k: v for k, v in context.items() if k != "ip"}
        elif truncated != ip:
            context = {**context, "ip": truncated}
    if settings.scrub_pii:
        _pseudonymize_ids(event, settings.salt or "")
        if not clean_properties:
            event.properties = _scrub(event.properties, _NO_SKIP)
        context = _scrub(context, _CONTEXT_SKIP)
    event.context = context
    if settings.hash_user_ids and event.user_id is not None:
        event.user_id = hash_user_id(event.user_id, settings.salt or "")
    return event


def _pseudonymize_ids(event: Event, salt: str) -> None:
    """An id that is itself an e-mail address, phone or card number (``identify("jane@...")``)
    becomes its salted hash: still one stable id per person, no longer readable.

    Ids repeat on every event of a visit, so a known-clean id costs one set lookup.
    """
    clean = _clean
    anonymous_id, user_id, session_id = event.anonymous_id, event.user_id, event.session_id
    if anonymous_id is not None and anonymous_id not in clean:
        event.anonymous_id = _pseudonym(anonymous_id, salt)
    if user_id is not None and user_id not in clean:
        event.user_id = _pseudonym(user_id, salt)
    if session_id is not None and session_id not in clean:
        event.session_id = _pseudonym(session_id, salt)
    if "previous_id" in event.properties:
        previous = event.properties["previous_id"]
        if isinstance(previous, str) and scrub_text(previous) != previous:
            event.properties = {**event.properties, "previous_id": hash_user_id(previous, salt)}


def _pseudonym(value: str, salt: str) -> str:
    """``value``, or its salted hash when it holds PII."""
    if not isinstance(value, str) or _scrub_string(value) == value:
        return value
    return hash_user_id(value, salt)


def _consent_denied(consent: Any) -> bool:
    if not isinstance(consent, dict):
        return False
    analytics = consent.get("analytics", True)
    return analytics is False or analytics == "denied"


def _scrub(mapping: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    """Scrub every string below ``mapping``; containers are copied only where something changed.

    Strings under six characters cannot hold PII (the shortest is an e-mail like ``a@b.io``).
    """
    changes = None
    clean = _clean
    new: Any
    for key, item in mapping.items():
        kind = type(item)
        if kind is str:
            # Length first (short strings are most values: no hash), then the key, whose hash
            # is cached (the decoder shares key strings): a long skipped value such as the
            # user agent is never hashed only to be skipped.
            if len(item) < 6 or key in skip or item in clean:
                continue
            new = _scrub_string(item)
        elif kind is dict:
            if key in skip:
                continue
            new = _scrub(item, _NO_SKIP)
        elif kind is list:
            if key in skip:
                continue
            new = _scrub_list(item)
        else:
            continue
        if new is not item:
            if changes is None:
                changes = {}
            changes[key] = new
    return {**mapping, **changes} if changes else mapping


def _scrub_list(items: list[Any]) -> list[Any]:
    """``_scrub`` for a list: a copy only when an entry changed."""
    new_items = None
    clean = _clean
    new: Any
    for index, item in enumerate(items):
        kind = type(item)
        if kind is dict:
            new = _scrub(item, _NO_SKIP)
        elif kind is str:
            if len(item) < 6 or item in clean:
                continue
            new = _scrub_string(item)
        elif kind is list:
            new = _scrub_list(item)
        else:
            continue
        if new is not item:
            if new_items is None:
                new_items = list(items)
            new_items[index] = new
    return items if new_items is None else new_items


# Strings that scrub_text leaves as they are. Shops send the same page paths, URLs, product
# names and campaign tags over and over, so most strings are answered by one set lookup. Only
# clean strings are kept, never one that held PII; bounded by starting afresh when full.
_clean: set[str] = set()
_CLEAN_MAX = 100_000


def _scrub_string(text: str) -> str:
    new = scrub_text(text)
    if new == text:
        if len(_clean) >= _CLEAN_MAX:
            _clean.clear()
        _clean.add(text)
        return text
    return new


def scrub_text(text: str) -> str:
    """Replace e-mails, phone and card numbers in ``text``; URLs also lose PII query values."""
    if "=" in text and "?" in text and ("://" in text or text.startswith("/")):
        return _scrub_url(text)
    return _scrub_plain(text)


def _scrub_plain(text: str) -> str:
    # Repeat to a fixed point: a phone cut short (a price after it) may leave one beside it.
    while _MAYBE_PII.search(text) is not None:
        scrubbed = _PII.sub(_replace, _CARD_RUN.sub(_replace_cards, text))
        if scrubbed == text:
            break
        text = scrubbed
    return text


def _replace(match: re.Match[str]) -> str:
    return EMAIL if match.lastgroup == "email" else _replace_phone(match)


def _replace_phone(match: re.Match[str]) -> str:
    """A phone has 7 to 15 digits; a longer match ends in something else (a price, a count)."""
    found = match.group()
    after = match.string[match.end() : match.end() + 2]
    count, best = 0, -1
    for group in _DIGITS.finditer(found):
        count += group.end() - group.start()
        if count > 15:
            break
        rest = found[group.end() : group.end() + 2] or after
        if count >= 7 and not (rest[:1] == "." and rest[1:2].isdigit()):
            best = group.end()
    return found if best < 0 else PHONE + found[best:]


def _replace_cards(match: re.Match[str]) -> str:
    """Find card numbers among the digit groups of a run of digits."""
    run = match.group()
    groups = [(m.start(), m.end(), m.group()) for m in _DIGITS.finditer(run)]
    out, done, first = [], 0, 0
    while first < len(groups):
        last = _card_end(groups, first)
        if last < 0:
            first += 1
            continue
        out.append(run[done : groups[first][0]])
        out.append(CARD)
        done = groups[last][1]
        first = last + 1
    out.append(run[done:])
    return "".join(out)


def _card_end(groups: list[tuple[int, int, str]], first: int) -> int:
    """The last group of a card number starting at group ``first``, or -1.

    Only the layouts cards are printed in count: one block, blocks of four (the last may be
    shorter), or American Express's 4-6-5.
    """
    digits = ""
    for last in range(first, len(groups)):
        block = groups[last][2]
        digits += block
        if len(digits) > 19:
            return -1
        if len(digits) >= 13 and is_card_number(digits):
            return last
        amex_layout = last == first + 1 and len(block) == 6 and len(digits) == 10
        if len(block) != 4 and not amex_layout:
            return -1
    return -1


def _scrub_url(url: str) -> str:
    base, _, query = url.partition("?")
    query, hash_mark, fragment = query.partition("#")
    if _MAYBE_PII.search(url) is None and _PII_PARAM.search(query) is None:
        return url
    params = []
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        if not value:
            params.append(pair)
            continue
        name = unquote_plus(key).strip().lower().replace("-", "_")
        if name in PII_PARAMS:
            params.append(f"{key}={REDACTED}")
            continue
        params.append(f"{key}{eq}{REDACTED}" if _has_pii(value) else pair)
    base = _scrub_plain(base)
    fragment = scrub_text(fragment) if fragment else fragment
    return f"{base}?{'&'.join(params)}{hash_mark}{fragment}"


def _has_pii(query_value: str) -> bool:
    # A raw "+" is a space in a form-encoded query, or the "+" of an international number.
    decodings = {unquote_plus(query_value), unquote(query_value)}
    return any(_scrub_plain(decoded) != decoded for decoded in decodings)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _gtin_valid(digits: str) -> bool:
    body, check = digits[:-1], ord(digits[-1]) - 48
    weighted = sum((ord(c) - 48) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == check


def is_card_number(digits: str) -> bool:
    """13-19 digits with a card-network prefix and a valid Luhn digit, and no GTIN barcode."""
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not luhn_valid(digits):
        return False
    if digits[0] == "2" and not (len(digits) == 16 and 2221 <= int(digits[:4]) <= 2720):
        return False
    return not (len(digits) in (13, 14) and _gtin_valid(digits))


@lru_cache(maxsize=65536)
def truncate_ip(ip: str) -> str | None:
    """IPv4 to its /24 and IPv6 to its /48; ``None`` for something that is not an address."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_HASH_PREFIX = "sha256:"


def hash_user_id(user_id: str, salt: str) -> str:
    """Salted SHA-256 of a user id; an id that is already a hash is left as it is."""
    if user_id.startswith(_HASH_PREFIX) and len(user_id) == len(_HASH_PREFIX) + 64:
        return user_id
    digest = hashlib.sha256(f"{salt}\x1f{user_id}".encode()).hexdigest()
    return _HASH_PREFIX + digest
