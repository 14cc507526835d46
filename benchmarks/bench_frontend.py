"""Front-end throughput: generate a ~20k-line `.ai` program, time parse and check.

Run: .venv/bin/python benchmarks/bench_frontend.py [--lines 20000] [--repeat 5]
The target is 20,000 lines per second for parse + check together.
"""
from __future__ import annotations

import argparse
import time

BLOCK = '''\
# group {i} 🚀
llm llm_{i} {{
  provider: "mock"
  model: "gpt-4o-mini"
  temperature: 0.{d}
  max_tokens: 512
  api_key: env("OPENAI_API_KEY")
  responses: [
    {{ match: "weather {i}", tool_call: {{ name: "lookup_{i}", arguments: {{ city: "Paris" }} }} }}
    {{ match: ".*", reply: "ok {i}" }}
  ]
}}

tool lookup_{i} {{
  type: "mock"
  description: "Looks something up"
  returns: {{ answer: 42, tags: ["a", "b", "c"] }}
  parameters: {{ type: "object", properties: {{ city: {{ type: "string" }} }} }}
}}

memory mem_{i} {{ type: "conversation", max_items: 20 }}

prompt summarize_{i} {{
  model: llm_{i}
  template: """
    Summarize {{{{text}}}} in {{{{words}}}} words.
    Be brief.
    """
  variables: ["text", "words"]
  output: {{ summary: "text", score: "number" }}
}}

agent helper_{i} {{
  llm: llm_{i}
  system_prompt: "You help with group {i}."
  tools: [lookup_{i}]
  memory: mem_{i}
  max_turns: 5
}}

chain flow_{i} {{
  steps: [
    {{ name: "sum", kind: "prompt", target: summarize_{i}, input: {{ text: "{{{{input}}}}" }} }}
    {{ name: "ask", kind: "agent", target: helper_{i}, input: "{{{{steps.sum}}}}" }}
    {{ parallel: [
        {{ kind: "tool", target: lookup_{i}, input: {{ city: "Rome" }} }}
        {{ kind: "prompt", target: summarize_{i}, when: "{{{{input}}}}" }}
    ] }}
  ]
}}

chain short_{i} {{ steps: "summarize_{i} -> helper_{i}" }}

'''


def generate(lines: int) -> str:
    header = 'module bench\nlanguage_version: "1.0"\napp "Bench" { description: "generated" }\n\n'
    parts = [header]
    count = header.count("\n")
    i = 0
    while count < lines:
        block = BLOCK.format(i=i, d=i % 10)
        parts.append(block)
        count += block.count("\n")
        i += 1
    return "".join(parts)


def collect(quick: bool) -> list:
    """Parse + check lines per second, beside CPython parsing the program's compiled module."""
    import ast
    import time

    from benchmarks.measure import Stat, interleaved
    from benchmarks.results import Row
    from n3instrument.frontend.checks import check
    from n3instrument.frontend.parser import parse
    from n3instrument.lowering import lower

    source = generate(5_000 if quick else 20_000)
    n = source.count("\n")
    program = parse(source, "bench.ai")
    python = lower(program)
    samples = interleaved({"ours": lambda: check(parse(source, "bench.ai")),
                           "ast.parse": lambda: ast.parse(python)},
                          3 if quick else 7, clock=time.process_time_ns)
    rate = {name: Stat.of(n * 1e9 / ns for ns in values) for name, values in samples.items()}
    peers = {"CPython ast.parse of the compiled program.py, same .ai lines": rate["ast.parse"]}
    return [Row("Front end", f".ai parse + check, {n:,}-line program", "lines/s", rate["ours"],
                peers, better="higher", target="≥ 20,000 lines/s",
                met=rate["ours"].median >= 20_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from n3instrument.frontend.checks import check
    from n3instrument.frontend.parser import parse

    source = generate(args.lines)
    n = source.count("\n")
    start = time.perf_counter()
    parse('app "Warm" {}', "warm.ai")
    warm = time.perf_counter() - start
    best_parse = best_check = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        program = parse(source, "bench.ai")
        t1 = time.perf_counter()
        diagnostics = check(program)
        t2 = time.perf_counter()
        best_parse = min(best_parse, t1 - t0)
        best_check = min(best_check, t2 - t1)
    errors = [d for d in diagnostics if d.severity == "error"]
    total = best_parse + best_check
    print(f"{n} lines, {len(program.declarations)} declarations, {len(errors)} errors "
          f"(best of {args.repeat}; grammar load {warm * 1000:.0f} ms)")
    print(f"{'parse':>8}: {best_parse * 1000:8.1f} ms  {n / best_parse:12,.0f} lines/s")
    print(f"{'check':>8}: {best_check * 1000:8.1f} ms  {n / best_check:12,.0f} lines/s")
    print(f"{'total':>8}: {total * 1000:8.1f} ms  {n / total:12,.0f} lines/s")


if __name__ == "__main__":
    main()
