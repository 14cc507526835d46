"""Offline half of the toolchain: reading, analysing, inspecting, replaying and exporting traces."""
