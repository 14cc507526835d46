"""Which keys and values count as secrets: the rules a tracer's encoder redacts by.

Each call returns fresh rules (a `payload.Redaction` with its own verdict cache and
learned values); nothing here is module state, so two tracers, or a test and the next,
never share what one of them learned.
"""
from __future__ import annotations

import re

from .payload import MIN_LEARNED, Redaction

SECRET_KEY = (r"^(.*[_-])?(api[_-]?key|authorization|password|passwd|secret|token|cookie"
              r"|credentials?)$")
SECRET_ENV = re.compile(r"(?i)(key|secret|token|passw|credential|auth)")


def key_rules(patterns=()) -> Redaction:
    """Redact the values of secret-named keys (SECRET_KEY, or any of `patterns`)."""
    rule = re.compile("|".join([SECRET_KEY, *patterns]), re.I).search
    return Redaction({}, lambda key: rule(key) is not None, [])


def environment_rules(environ, patterns=()) -> Redaction:
    """key_rules, and the values of `environ`'s secret-named variables scrubbed everywhere."""
    values = {v for k, v in environ.items() if SECRET_ENV.search(k) and len(v) >= MIN_LEARNED}
    rules = key_rules(patterns)
    rules.secrets.extend(sorted(values, key=len, reverse=True))
    return rules


def too_short_to_scrub(environ) -> list[str]:
    """Secret-looking environment variables whose values `environment_rules` leaves out.

    A value under MIN_LEARNED characters is also a piece of ordinary words and numbers:
    replacing it wherever it appears would garble payloads (and the request hashes replay
    compares), and keeping it whole-value only would still miss it inside a prompt. So
    it is not scrubbed, and the bootstrap says so once.
    """
    return sorted(k for k, v in environ.items() if SECRET_ENV.search(k) and 0 < len(v) < MIN_LEARNED)
