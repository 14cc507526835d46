"""The compile-time tracing pass: profiles, the site table, and the libcst rewrites."""
from __future__ import annotations


def instrument_program(program, program_py: str, main_py: str, profile_path=None, filters=(),
                       user_modules=()):
    """Files an instrumented build adds or replaces, and what its manifest records."""
    import os
    import sys

    from ..errors import UsageError
    from .build_pass import HOOKS_MODULE, instrument_build
    from .mapped_import import TABLE as POSITIONS_TABLE
    from .profile import builtin_profile, load_profile
    from .user_module import instrument_user_module

    profile = load_profile(profile_path) if profile_path else builtin_profile()
    result = instrument_build(program, program_py, main_py, profile, filters)
    loaded = {}
    for path in user_modules:
        if not os.path.isfile(path) or not path.endswith(".py"):
            raise UsageError(f"--instrument-module {path}: no such Python file; give the path of a .py module.")
        relative = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(program.file)))
        if relative.startswith(".."):
            raise UsageError(f"--instrument-module {path} is outside the program's folder, "
                             "where python tools are imported from; move it there.")
        module = relative[:-3].replace(os.sep, ".").removesuffix(".__init__")
        user = instrument_user_module(path, module, len(result.plan.sites), HOOKS_MODULE)
        result.plan.sites.extend(user.sites)
        loaded[module] = f"_n3_user/{module}.py"
        copy = relative.replace(os.sep, "/")  # the original, which tracebacks name
        result.files[copy] = user.source
        result.add_module(module, loaded[module], user.source, user.code, {"build": copy})
    result.files["sites.json"] = result.plan.to_json()
    result.files[POSITIONS_TABLE] = result.positions_json()
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    info = {
        "flags": {"instrument": True, "filters": list(filters)},
        "profile": profile.name,
        "sites_sha256": result.plan.digest(),
        "instrumented_modules": loaded,  # imported through _n3_positions, by name
    }
    return result.files, info
