"""Run-time half of the toolchain: the runtime compiled programs call, and the tracing core."""

__version__ = "0.1.0"  # the toolchain's one version: namel3ss, n3analyze, the wheel
