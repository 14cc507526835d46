(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("n3-data").textContent);
  var app = document.getElementById("app");
  var COLORS = {agent_execution: "#6941c6", agent_turn: "#9e77ed", llm_call: "#175cd3",
    tool_call: "#0e9384", chain_execution: "#c11574", chain_step: "#e04f9f",
    prompt_execution: "#dc6803", memory_operation: "#4e5ba6", app_run: "#344054"};

  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else if (k === "style") node.style.cssText = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (kid) {
      if (kid !== null && kid !== undefined) node.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    });
    return node;
  }
  function color(type) {
    if (COLORS[type]) return COLORS[type];
    var h = 0;
    for (var i = 0; i < type.length; i++) h = (h * 31 + type.charCodeAt(i)) % 360;
    return "hsl(" + h + ",45%,45%)";
  }
  function ms(v) {
    if (v === null || v === undefined) return "–";
    if (v >= 1000) return (v / 1000).toFixed(2) + " s";
    if (v >= 1) return v.toFixed(1) + " ms";
    return (v * 1000).toFixed(0) + " µs";
  }
  function usd(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "$0";
    return "$" + Number(v.toPrecision(3));
  }
  function json(v) { return typeof v === "string" ? v : JSON.stringify(v, null, 2); }
  function table(columns, rows) {
    var head = el("tr", null, columns.map(function (c) { return el("th", {text: c[0], cls: c[2] ? "num" : ""}); }));
    var body = rows.map(function (r) {
      return el("tr", null, columns.map(function (c) {
        var v = c[1](r);
        return el("td", {text: v === null || v === undefined ? "–" : String(v), cls: c[2] ? "num" : ""});
      }));
    });
    return el("table", null, [el("thead", null, [head]), el("tbody", null, body)]);
  }
  function section(title, kids) { return el("section", null, [el("h2", {text: title})].concat(kids)); }

  function header(doc, label) {
    var run = doc.run, meta = run.metadata || {};
    var facts = [["program", meta.program], ["run", run.run_id],
      ["duration", ms(run.duration_ms)], ["events", run.events], ["spans", run.spans],
      ["errors", run.errors], ["llm calls", run.llm_calls], ["tokens", run.total_tokens],
      ["cost", usd(run.cost_usd)], ["format", doc.health.format + " " + doc.health.format_version]];
    var h = doc.health, problems = (h.warnings || []).slice();
    if (h.open_spans) problems.push(h.open_spans + " span(s) were still open when the trace ends (the run was cut short or is still running)");
    if (doc.omitted.spans) problems.push("this page draws " + doc.spans.length + " of " + (doc.spans.length + doc.omitted.spans) +
      " spans (the critical path, failing and open spans, the slowest, and their ancestors); the other " +
      doc.omitted.spans + " are summed per operation below the timeline");
    var health = problems.length
      ? el("div", {cls: "health bad", id: label + "health"}, [el("b", {text: "This trace is not the whole run:"}),
          el("ul", null, problems.map(function (p) { return el("li", {text: p}); }))])
      : el("div", {cls: "health good", id: label + "health", text: "Complete trace: every event was written and read back."});
    return el("header", null, [
      el("h1", {text: (label ? label.toUpperCase().replace("-", "") + ": " : "") + (run.app || "namel3ss run") + (run.entry ? " · " + run.entry : "")}),
      el("div", {cls: "muted", text: run.trace}),
      el("div", {cls: "facts"}, facts.filter(function (f) { return f[1] !== undefined && f[1] !== null; }).map(function (f) {
        return el("span", null, [f[0] + " ", el("b", {text: String(f[1])})]);
      })), health]);
  }

  var selected = null;
  function select(doc, id, prefix) {
    if (selected) selected.classList.remove("selected");
    selected = document.getElementById(prefix + "bar-" + id);
    if (selected) { selected.classList.add("selected"); selected.scrollIntoView({block: "nearest", inline: "center"}); }
    showDetail(doc, id, prefix);
  }

  function extent(doc) {
    var end = 1;
    doc.spans.forEach(function (s) { end = Math.max(end, s.start_us + s.dur_us); });
    return end;
  }

  function timeline(doc, prefix, marks, end) {
    var spans = doc.spans, byId = {}, depth = {}, lanes = doc.lanes.map(function () { return 0; });
    spans.forEach(function (s) { byId[s.id] = s; });
    spans.forEach(function (s) {
      var p = byId[s.parent];
      depth[s.id] = p && p.lane === s.lane && depth[p.id] !== undefined ? depth[p.id] + 1 : 0;
      lanes[s.lane] = Math.max(lanes[s.lane], depth[s.id] + 1);
    });
    var width = "max(100%, " + Math.min(40000, spans.length * 3) + "px)";
    var tracks = doc.lanes.map(function (lane, i) {
      return el("div", {cls: "track", style: "height:" + (lanes[i] * 19 + 2) + "px;width:" + width});
    });
    spans.forEach(function (s) {
      var cls = "bar" + (s.status === "error" ? " error" : "") + (s.status === "open" ? " open" : "") +
        (s.critical ? " critical" : "") + (marks && marks[s.id] ? " diverged" : "");
      var tip = s.type + " " + s.name + "\n" + ms(s.dur_us / 1000) + (s.status !== "ok" ? " · " + s.status : "") +
        (s.tokens !== null ? "\n" + s.tokens + " tokens · " + usd(s.cost_usd) : "") + (s.location ? "\n" + s.location : "");
      var bar = el("div", {cls: cls, id: prefix + "bar-" + s.id, "data-span": s.id, title: tip,
        style: "left:" + (s.start_us / end * 100) + "%;width:" + (s.dur_us / end * 100) +
          "%;top:" + (depth[s.id] * 19 + 2) + "px;background-color:" + color(s.type), text: s.name || s.type});
      bar.addEventListener("click", function () { select(doc, s.id, prefix); });
      tracks[s.lane].appendChild(bar);
    });
    var box = el("div", {cls: "timeline", id: prefix + "timeline"}, doc.lanes.map(function (lane, i) {
      return el("div", {cls: "lane"}, [el("span", {cls: "lane-name", text: lane.name + " (task " + lane.task + ")"}), tracks[i]]);
    }));
    var types = {};
    spans.forEach(function (s) { types[s.type] = 1; });
    var legend = el("div", {cls: "legend"}, Object.keys(types).sort().map(function (t) {
      return el("span", null, [el("i", {style: "background:" + color(t)}), t]);
    }).concat([el("span", {text: "outlined gold: critical path · red outline: failed · striped: still open"})]));
    return el("div", null, [legend, box, el("div", {cls: "axis"}, [el("span", {text: "0"}), el("span", {text: ms(end / 1000)})])]);
  }

  function showDetail(doc, id, prefix) {
    var box = document.getElementById(prefix + "detail");
    var s = null;
    doc.spans.forEach(function (x) { if (x.id === id) s = x; });
    box.textContent = "";
    if (!s) return;
    var d = doc.details[String(id)];
    box.appendChild(el("h3", {text: s.type + " · " + s.name}));
    box.appendChild(el("div", {cls: "facts"}, [
      el("span", null, ["duration ", el("b", {text: ms(s.dur_us / 1000)})]),
      el("span", null, ["status ", el("b", {text: s.status})]),
      s.tokens !== null ? el("span", null, ["tokens ", el("b", {text: String(s.tokens)})]) : null,
      s.cost_usd !== null ? el("span", null, ["cost ", el("b", {text: usd(s.cost_usd)})]) : null,
      el("span", null, ["at ", el("b", {text: s.location || "(no source position)"})])]));
    if (!d) {
      box.appendChild(el("p", {cls: "muted", text: "This span's payloads are not in the page (it keeps them for the " +
        "failing, critical and slowest spans of a large trace). `n3analyze inspect --event N` shows any event."}));
    } else {
      var end = d.end, err = end && typeof end === "object" ? (end.error && typeof end.error === "object" ? end.error : (end.type && end.message !== undefined ? end : null)) : null;
      if (err) {
        box.appendChild(el("h4", {cls: "note", text: "Error: " + (err.type || "") + ": " + (err.message || "")}));
        if (err.stack) box.appendChild(el("pre", {cls: "stack", text: err.stack}));
      }
      box.appendChild(el("div", {cls: "cols"}, [
        el("div", null, [el("h4", {text: "Start (request, arguments) · event " + d.events[0]}), el("pre", {cls: "payload", text: json(d.start)})]),
        el("div", null, [el("h4", {text: "End (response, result) · event " + (d.events[1] === null ? "–" : d.events[1])}), el("pre", {cls: "payload", text: json(d.end)})])]));
    }
    var src = doc.sources[String(s.site)];
    if (src) {
      if (src.lines.length) {
        box.appendChild(el("h4", {text: src.file + ":" + src.line}));
        box.appendChild(el("div", {cls: "source"}, src.lines.map(function (l) {
          return el("div", {cls: l[2] ? "hit" : ""}, [el("span", {cls: "no", text: String(l[0])}), l[1]]);
        })));
      } else {
        box.appendChild(el("p", {cls: "muted", text: "Source not shown: " + (src.reason || "not found")}));
      }
    }
  }

  function tree(doc, prefix) {
    var kids = {}, byId = {};
    doc.spans.forEach(function (s) { byId[s.id] = s; });
    doc.spans.forEach(function (s) {
      var p = byId[s.parent] ? s.parent : 0;
      (kids[p] = kids[p] || []).push(s);
    });
    var root = el("div", {cls: "tree", id: prefix + "tree"});
    var stack = [[0, root, 0]];
    while (stack.length) {
      var top = stack.pop(), parent = top[1], level = top[2];
      (kids[top[0]] || []).forEach(function (s) {
        var label = s.type + " " + s.name + " · " + ms(s.dur_us / 1000) + (s.status !== "ok" ? " · " + s.status : "");
        var pick = function () { select(doc, s.id, prefix); };
        var row = el(kids[s.id] ? "summary" : "div", {cls: (kids[s.id] ? "" : "leaf") + (s.status === "error" ? " err" : ""),
          id: prefix + "node-" + s.id, text: label});
        row.addEventListener("click", pick);
        if (kids[s.id]) {
          var node = el("details", level < 2 ? {open: ""} : null, [row]);
          parent.appendChild(node);
          stack.push([s.id, node, level + 1]);
        } else {
          parent.appendChild(row);
        }
      });
    }
    return root;
  }

  function memoryChart(mem) {
    var series = (mem && mem.series) || [];
    if (series.length < 2) return null;
    var NS = "http://www.w3.org/2000/svg", w = 900, h = 160;
    var t1 = series[series.length - 1].t_ms || 1, lo = Infinity, hi = 0;
    series.forEach(function (p) { lo = Math.min(lo, p.rss); hi = Math.max(hi, p.rss); });
    var span = Math.max(1, hi - lo);
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + (h + 20));
    svg.setAttribute("width", "100%");
    svg.setAttribute("id", "memory-chart");
    var line = document.createElementNS(NS, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "#175cd3");
    line.setAttribute("points", series.map(function (p) {
      return (p.t_ms / t1 * w).toFixed(1) + "," + (h - (p.rss - lo) / span * (h - 10)).toFixed(1);
    }).join(" "));
    svg.appendChild(line);
    var label = document.createElementNS(NS, "text");
    label.setAttribute("x", "4"); label.setAttribute("y", String(h + 16)); label.setAttribute("font-size", "12");
    label.textContent = "RSS " + (lo / 1048576).toFixed(1) + "–" + (hi / 1048576).toFixed(1) + " MiB over " + ms(t1);
    svg.appendChild(label);
    return svg;
  }

  function tables(doc) {
    var t = doc.tables, out = [];
    out.push(section("Latency per operation", [table([["operation", function (r) { return r.event_type + " " + r.name; }],
      ["count", function (r) { return r.count; }, 1], ["failed", function (r) { return r.failed; }, 1],
      ["p50", function (r) { return ms(r.p50_ms); }, 1], ["p95", function (r) { return ms(r.p95_ms); }, 1],
      ["max", function (r) { return ms(r.max_ms); }, 1], ["total", function (r) { return ms(r.total_ms); }, 1],
      ["at", function (r) { return r.location; }]], t.latency)]));
    out.push(section("Slowest operations", [table([["operation", function (r) { return r.event_type + " " + r.name; }],
      ["duration", function (r) { return ms(r.duration_ms); }, 1], ["starts at", function (r) { return ms(r.start_offset_ms); }, 1],
      ["span", function (r) { return r.span; }, 1]], t.slowest)]));
    out.push(section("Critical path", [el("p", {cls: "muted", text: "The chain of spans that decided the run's duration (" +
      ms(t.critical_path.duration_ms) + "); outlined gold on the timeline."}),
      table([["depth", function (r) { return r.depth; }, 1], ["operation", function (r) { return r.event_type + " " + r.name; }],
        ["duration", function (r) { return ms(r.duration_ms); }, 1], ["self", function (r) { return ms(r.self_ms); }, 1]],
        t.critical_path.segments)]));
    var tok = t.tokens, tokCols = [["name", function (r) { return r.name; }], ["calls", function (r) { return r.calls; }, 1],
      ["prompt", function (r) { return r.prompt_tokens; }, 1], ["completion", function (r) { return r.completion_tokens; }, 1],
      ["total", function (r) { return r.total_tokens; }, 1], ["cost", function (r) { return usd(r.cost_usd); }, 1]];
    out.push(section("Tokens and cost", [el("h4", {text: "per llm"}), table(tokCols, tok.by_llm),
      el("h4", {text: "per agent"}), table(tokCols, tok.by_agent), el("h4", {text: "per chain"}), table(tokCols, tok.by_chain)]));
    var e = t.errors;
    out.push(section("Errors and retries", [
      table([["error type", function (r) { return r.type; }], ["count", function (r) { return r.count; }, 1]], e.by_type),
      table([["operation", function (r) { return r.event_type + " " + r.name; }], ["calls", function (r) { return r.count; }, 1],
        ["failed", function (r) { return r.failed; }, 1], ["rate", function (r) { return (r.failure_rate * 100).toFixed(1) + "%"; }, 1]],
        e.failure_rates.filter(function (r) { return r.failed; })),
      table([["prompt", function (r) { return r.name; }], ["runs", function (r) { return r.executions; }, 1],
        ["retried", function (r) { return r.retried; }, 1], ["extra attempts", function (r) { return r.extra_attempts; }, 1],
        ["extra time", function (r) { return ms(r.extra_ms); }, 1], ["extra tokens", function (r) { return r.extra_tokens; }, 1]],
        e.retries.prompts)]));
    var chart = memoryChart(doc.memory);
    if (chart) out.push(section("Memory", [chart]));
    if (doc.omitted.spans) out.push(section("Spans summed, not drawn", [table([["operation", function (r) { return r.event_type + " " + r.name; }],
      ["count", function (r) { return r.count; }, 1], ["total", function (r) { return ms(r.total_ms); }, 1]], doc.omitted.by_operation)]));
    return out;
  }

  function diffSection(diff) {
    var first = diff.report.first_divergence, kids = [];
    if (diff.report.same) {
      kids.push(el("p", {id: "diff-verdict", text: "Same: " + diff.report.boundaries.matched + " boundaries match, call for call."}));
    } else {
      kids.push(el("p", {id: "diff-verdict", cls: "note", text: "Different: " + diff.report.boundaries.matched + " of " +
        diff.report.boundaries.a + " (A) / " + diff.report.boundaries.b + " (B) boundaries match."}));
      if (first) {
        kids.push(el("h3", {id: "first-divergence", text: "First divergence: " + first.verdict + " " + first.key}));
        kids.push(el("div", {cls: "muted", text: "at " + first.where}));
        (first.fields || []).forEach(function (f) {
          kids.push(el("h4", {text: f.field || "(request)"}));
          var lines = f.diff || ["- " + json(f.recorded), "+ " + json(f.replayed)];
          kids.push(el("pre", {cls: "textdiff"}, lines.map(function (l) {
            return el("div", {cls: "diffline" + (l.charAt(0) === "+" && l.slice(0, 3) !== "+++" ? " add" : l.charAt(0) === "-" && l.slice(0, 3) !== "---" ? " del" : ""), text: l});
          })));
        });
      }
      ["added", "removed", "changed"].forEach(function (k) {
        if (diff.report[k].length) kids.push(el("h4", {text: k + " (" + diff.report[k].length + ")"}),
          table([["key", function (r) { return r.key; }], ["at", function (r) { return r.where; }]], diff.report[k]));
      });
    }
    return section("Diff of A and B", kids);
  }

  function page(doc, prefix, marks, end) {
    var parts = [header(doc, prefix), section("Timeline", [timeline(doc, prefix, marks, end)]),
      section("Selected span", [el("div", {cls: "detail", id: prefix + "detail"}, [el("p", {cls: "muted", text: "Click a bar or a tree row."})])]),
      section("Span tree", [tree(doc, prefix)])];
    return parts;
  }

  var body = [];
  if (D.diff) {
    var markA = {}, markB = {};
    (D.diff.marks_a || []).forEach(function (id) { markA[id] = 1; });
    (D.diff.marks_b || []).forEach(function (id) { markB[id] = 1; });
    body.push(diffSection(D.diff));
    var both = Math.max(extent(D), extent(D.diff.b));
    body = body.concat(page(D, "a-", markA, both), page(D.diff.b, "b-", markB, both));
  } else {
    body = page(D, "", null, extent(D)).concat(tables(D));
  }
  body.forEach(function (n) { app.appendChild(n); });
  app.setAttribute("data-ready", "1");
})();
