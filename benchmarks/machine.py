"""What the figures were measured on: a result is meaningless without its machine."""
from __future__ import annotations

import datetime
import os
import platform
import sys


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiled_cores() -> dict:
    """The core each component runs on in this interpreter: 'c' or 'python'."""
    from analyzer import passcore
    from n3core.tracing import core as tracing_core

    return {"tracing ring and reader": tracing_core.CORE_NAME,
            "analysis pass": passcore.CORE_NAME}


def describe() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "compiled": compiled_cores(),
        "load average at the end (1, 5, 15 min)": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
