"""A trace cut short by SIGKILL: a chain whose steps ran on their own asyncio tasks, then
an agent looping over llm calls when the process is killed, so spans are still open."""
from __future__ import annotations

import signal
import textwrap

from support.tracing_cores import reap, spawn_python
from support.trace_factory import SITES

PROGRAM = """
import asyncio
from n3core.tracing import hooks, session
session.start({path!r}, {sites!r}, {{"policy": "block", "chunk_events": 64,
              "buffer_size": 256, "install_hooks": False}})

async def step(i):
    t = hooks.enter(9, {{"step": i}})
    for j in range(20):
        u = hooks.enter(5, {{"call_id": f"call-{{i}}-{{j}}", "arguments": {{"q": j}}}})
        await asyncio.sleep(0)
        hooks.exit(u, {{"result": j}})
    hooks.exit(t, {{"output": i}})

async def main():
    chain = hooks.enter(1, {{"input": {{"topic": "killed"}}}})
    await asyncio.gather(*(step(i) for i in range(4)))
    agent = hooks.enter(2, {{"input": "loop"}})
    n = 0
    while True:
        t = hooks.enter(4, {{"provider": "openai", "model": "gpt-4o"}})
        await asyncio.sleep(0)
        hooks.exit(t, {{"usage": {{"prompt_tokens": 10, "completion_tokens": 2}}}})
        n += 1
        if n == 3000:
            print("ready", flush=True)

asyncio.run(main())
"""


def killed_trace(path) -> str:
    """Run the program above in a real process, SIGKILL it mid-loop, return the trace path."""
    proc = spawn_python(textwrap.dedent(PROGRAM.format(path=str(path), sites=SITES)))
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
    finally:
        reap(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    return str(path)
