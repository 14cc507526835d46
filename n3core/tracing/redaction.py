"""Which keys and values count as secrets: the rules a tracer's encoder redacts by.

Each call returns fresh rules (a `payload.Redaction` with its own verdict cache and
learned values); nothing here is module state, so two tracers, or a test and the next,
never share what one of them learned.
"""
from __future__ import annotations

import re

from .payload import Redaction

SECRET_KEY = (r"^(.*[_-])?(api[_-]?key|authorization|password|passwd|secret|token|cookie"
              r"|credentials?)$")
SECRET_ENV = re.compile(r"(?i)(key|secret|token|passw|credential|auth)")
MIN_SECRET = 6  # shorter values of secret-named variables would scrub ordinary words


def key_rules(patterns=()) -> Redaction:
    """Redact the values of secret-named keys (SECRET_KEY, or any of `patterns`)."""
    rule = re.compile("|".join([SECRET_KEY, *patterns]), re.I).search
    return Redaction({}, lambda key: rule(key) is not None, [])


def environment_rules(environ, patterns=()) -> Redaction:
    """key_rules, and the values of `environ`'s secret-named variables scrubbed everywhere."""
    values = {v for k, v in environ.items() if SECRET_ENV.search(k) and len(v) >= MIN_SECRET}
    rules = key_rules(patterns)
    rules.secrets.extend(sorted(values, key=len, reverse=True))
    return rules
