"""The compile-time tracing pass: profiles, the site table, and the libcst rewrites."""
from __future__ import annotations


def instrument_program(program, program_py: str, main_py: str, profile_path=None, filters=()):
    """Files an instrumented build adds or replaces, and what its manifest records."""
    from .build_pass import instrument_build
    from .profile import builtin_profile, load_profile

    profile = load_profile(profile_path) if profile_path else builtin_profile()
    result = instrument_build(program, program_py, main_py, profile, filters)
    for warning in result.warnings:
        import sys

        sys.stderr.write(f"warning: {warning}\n")
    info = {
        "flags": {"instrument": True, "filters": list(filters)},
        "profile": profile.name,
        "sites_sha256": result.plan.digest(),
    }
    return result.files, info
