"""Run-time half of the toolchain: the runtime compiled programs call, and the tracing core."""
