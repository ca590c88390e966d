// The HTML report's script (conformance/report/html.py inlines it).
// Every string from the data goes into the page through textContent or
// createTextNode, never as markup: a results file cannot inject HTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const impls = data.implementations;
  const app = document.getElementById("app");
  const state = { rows: [], areas: [], lastOpened: null, scrollY: 0 };

  // -- small DOM helpers ------------------------------------------------------------------

  // el("td", {className: "x"}, "text", child) — strings become text nodes.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("aria") || key === "role" || key === "for" || key === "scope") {
        node.setAttribute(key === "for" ? "for" : key.replace(/^aria([A-Z])/, (m, c) => "aria-" + c.toLowerCase()), value);
      } else node[key] = value;
    }
    add(node, ...children);
    return node;
  }

  function add(node, ...children) {
    children.forEach((child) => append(node, child));
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) child.forEach((item) => append(node, item));
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }

  // "1 case", "2 cases": every count the page prints goes through here.
  function plural(count, word, many) {
    return count + " " + (count === 1 ? word : many || word + "s");
  }

  function percent(pair, text) {
    // The percentage text comes from the Python side (numbers.percent): 241/242 shows 99%, never 100%.
    const [passed, total] = pair;
    return total ? text + " (" + passed + "/" + total + ")" : "–";
  }

  function meter(value, label) {
    return el("meter", { min: 0, max: 1, low: 0.5, high: 0.9, optimum: 1, value: value, ariaLabel: label });
  }

  function duration(seconds) {
    if (typeof seconds !== "number") return "?";
    return seconds >= 60 ? Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s" : seconds.toFixed(1) + " s";
  }

  function outcomeBadge(outcome, extra) {
    const known = data.outcomes.includes(outcome);
    return el("span", { className: "outcome o-" + (known ? outcome : "other") },
      (known ? data.symbols[outcome] + " " : "") + (outcome || "?") + (extra || ""));
  }

  // -- readable values for the transcript -------------------------------------------------

  function bytesText(b64) {
    let raw;
    try { raw = atob(b64); } catch (e) { return null; }
    if (/^[\x20-\x7e\t\r\n]*$/.test(raw)) return JSON.stringify(raw);
    const hex = Array.from(raw.slice(0, 32), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");
    return "hex " + hex + (raw.length > 32 ? " …" : "");
  }

  function show(value, indent) {
    indent = indent || "";
    if (value === null || typeof value !== "object") return JSON.stringify(value) ?? String(value);
    if (!Array.isArray(value)) {
      if (value.$type === "undefined" && Object.keys(value).length === 1) return "undefined";
      if (value.$type === "bytes" && typeof value.b64 === "string") {
        const length = atobLength(value.b64);
        const text = bytesText(value.b64);
        if (text !== null) return (value.view || "bytes") + "(" + length + ") " + text;
      }
    }
    const inner = indent + "  ";
    const entries = Array.isArray(value)
      ? value.map((item) => show(item, inner))
      : Object.entries(value).map(([key, item]) => (/^[A-Za-z_$][\w$.]*$/.test(key) ? key : JSON.stringify(key)) + ": " + show(item, inner));
    const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
    const flat = open + entries.join(", ") + close;
    if (flat.length <= 90 && !flat.includes("\n")) return flat;
    return open + "\n" + entries.map((entry) => inner + entry).join(",\n") + "\n" + indent + close;
  }

  function atobLength(b64) {
    const clean = b64.replace(/=+$/, "");
    return Math.floor((clean.length * 3) / 4);
  }

  function code(value) {
    return value === undefined ? "" : el("pre", { className: "value" }, show(value));
  }

  // -- header and scores --------------------------------------------------------------------

  function header() {
    const revisions = data.spec_revisions.filter(Boolean);
    const suites = Array.from(new Set(impls.map((impl) => impl.run.suite_version).filter(Boolean)));
    const current = data.current_spec_revision;
    const node = el("header", {},
      el("h1", {}, data.title),
      el("p", { className: "meta" },
        "Suite version " + (suites.join(", ") || "?") + " · spec revision " + (revisions.join(", ") || "?")
        + (current && revisions.some((revision) => revision !== current) ? " (the spec's current revision is " + current + ")" : "")
        + " · " + plural(data.cases.length, "case") + " · " + plural(impls.length, "implementation")));
    if (revisions.length > 1) {
      node.appendChild(el("p", { className: "warning", role: "note" },
        "These runs ran different spec revisions: a case may differ between columns because the case changed."));
    }
    const table = el("table", { className: "implementations" },
      el("caption", {}, "Implementations"),
      el("thead", {}, el("tr", {}, ["implementation", "adapter", "version", "runtime", "adapter spec", "run started",
        "duration", "workers", "sandbox", "spec revision", "gate"].map((name) => el("th", { scope: "col" }, name)))));
    const body = el("tbody");
    const warnings = el("ul", { className: "warnings" });
    impls.forEach((impl) => {
      const run = impl.run;
      const adapter = run.adapter || {};
      const gate = impl.gate ? (impl.gate.ok ? "ok" : impl.gate.unexpected + " unexpected") : "–";
      body.appendChild(el("tr", {},
        el("th", { scope: "row" }, impl.name),
        [adapter.name, adapter.version, adapter.runtime, run.adapter_spec, (run.started || "").replace("T", " ")].map((text) => el("td", {}, text || "?")),
        el("td", {}, duration(run.duration_s)),
        el("td", {}, run.workers === undefined || run.workers === null ? "?" : String(run.workers)),
        el("td", {}, run.sandboxed ? "yes" : "no"),
        el("td", { className: impl.stale ? "bad" : "" }, el("code", {}, run.spec_revision || "?"), impl.stale ? " (stale)" : null),
        el("td", { className: impl.gate && !impl.gate.ok ? "bad" : "" }, gate)));
      if (impl.stale) {
        warnings.appendChild(el("li", {}, impl.name + ": stale: run on " + ((run.started || "").slice(0, 10) || "an unknown day")
          + " with spec revision " + (run.spec_revision || "?") + ", not the spec's current " + current
          + "; its results are not those of today's cases."));
      }
      if (run.interrupted) warnings.appendChild(el("li", {}, impl.name + ": the run was interrupted; its results are partial."));
      if (run.error) warnings.appendChild(el("li", {}, impl.name + ": the run failed: ", el("code", {}, run.error)));
      (run.spec_errors || []).forEach((error) => warnings.appendChild(el("li", {}, impl.name + ": spec error: ", el("code", {}, error))));
    });
    table.appendChild(body);
    node.appendChild(table);
    if (warnings.childNodes.length) node.appendChild(warnings);
    return node;
  }

  function scores() {
    const columns = data.levels.concat(["all"]);
    const away = impls.some((impl) => impl.scores.not_run_here > 0);
    const table = el("table", { className: "scores" },
      el("caption", {}, "Scores: pass rate per level"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "implementation"),
        columns.map((name) => el("th", { scope: "col" }, name === "all" ? "all cases" : name)),
        el("th", { scope: "col" }, "per case"),
        away ? el("th", { scope: "col" }, "not run here") : null)));
    const body = el("tbody");
    impls.forEach((impl) => {
      const s = impl.scores;
      body.appendChild(el("tr", {},
        el("th", { scope: "row" }, impl.name),
        columns.map((level) => el("td", {},
          s[level][1] ? meter(s[level][0] / s[level][1], impl.name + " " + level) : null, " ", percent(s[level], s.text[level]))),
        el("td", {}, typeof s.per_case === "number"
          ? [meter(s.per_case, impl.name + " per case"), " " + s.per_case_text + " of " + plural(s.case_groups, "case")]
          : "–"),
        away ? el("td", { className: "not-run-here" }, String(s.not_run_here)) : null));
    });
    table.appendChild(body);
    const reasons = el("ul", { className: "not-run-here" });
    impls.forEach((impl) => (impl.not_run_here || []).forEach((reason) => reasons.appendChild(el("li", {}, impl.name + ": " + reason))));
    return el("section", { id: "scores", ariaLabel: "Scores" }, table,
      reasons.childNodes.length ? [el("p", {}, "Not run here (the run lacked what these cases need; left out of every score):"), reasons] : null,
      el("p", { className: "hint" },
        "Only pass counts as passed; a skip for a capability the implementation lacks is a compatibility gap too, "
        + "but a case not run here is in no score. Per case: every case weighs the same, and "
        + "the variants of a parametrised case (id[variant]) share one weight, scored by the fraction that pass."));
  }

  // -- the drivers area: driver rows by implementation columns --------------------------------

  function driversSection() {
    const rows = data.drivers || [];
    if (!rows.length) return null;
    const body = el("tbody");
    rows.forEach((row) => {
      body.appendChild(el("tr", { dataset: { driver: row.driver } },
        el("th", { scope: "row" }, row.driver),
        el("td", {}, row.packages ? el("code", {}, row.packages) : "?"),
        el("td", {}, row.server || "?"),
        row.cells.map((cell) => el("td", { className: cell.scored && cell.passed < cell.scored && cell.unexpected ? "bad" : "" },
          cell.scored ? meter(cell.passed / cell.scored, row.driver) : null, " ", cell.text))));
    });
    return el("section", { id: "drivers", ariaLabel: "Drivers" },
      el("h2", {}, "Drivers by runtime"),
      el("table", { className: "drivers" },
        el("caption", {}, "Real client libraries over connect(): the share of each driver's cases that pass"),
        el("thead", {}, el("tr", {}, ["driver", "packages", "server"].map((name) => el("th", { scope: "col" }, name)),
          impls.map((impl) => el("th", { scope: "col" }, impl.name)))),
        body),
      el("p", { className: "hint" },
        "✅ all pass, ❌ not all; * every non-pass is recorded in the expectations file with its reason; ➖ runs no drivers; "
        + "cases not run here (no server, drivers not installed) are counted apart. The cases are under drivers below."));
  }

  // -- what to fix first: the divergence signatures (report/signatures.py) ---------------------

  function fixFirst() {
    const listed = impls.map((impl, index) => [impl, index]).filter(([impl]) => (impl.signatures || []).length);
    if (!listed.length) return null;
    const section = el("section", { id: "fix-first", ariaLabel: "What to fix first" }, el("h2", {}, "What to fix first"),
      el("p", { className: "hint" }, "The cases that did not pass, grouped by where each first diverged (the step, what it "
        + "is about, and the class of the difference), the signature that explains most cases first."));
    listed.forEach(([impl, index]) => {
      const body = el("tbody");
      impl.signatures.forEach((group) => {
        body.appendChild(el("tr", {},
          el("td", { className: "num" }, String(group.cases.length)),
          el("td", {}, el("code", { className: "signature" }, group.signature)),
          el("td", {}, el("details", {}, el("summary", {}, plural(group.cases.length, "case")),
            el("ul", { className: "signature-cases" }, group.cases.map((id) => el("li", {},
              el("button", { type: "button", className: "case-link", onclick: () => openCase(id, index) }, id))))))));
      });
      const failing = impl.signatures.reduce((sum, group) => sum + group.cases.length, 0);
      add(section, el("table", { className: "signatures", dataset: { impl: String(index) } },
        el("caption", {}, impl.name + ": " + plural(failing, "case") + " that did not pass, "
          + plural(impl.signatures.length, "signature")),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "cases"), el("th", { scope: "col" }, "first divergence"),
          el("th", { scope: "col" }, "the cases"))),
        body));
    });
    return section;
  }

  // -- timelines (connect-conformance history) ----------------------------------------------

  // A case named by a timeline: opens its view here when this page has it, else links to the
  // timeline's own page (a relative path we wrote; anything else is shown as text).
  function caseRef(line, id) {
    if (line.page === "" && data.cases.some((row) => row.id === id)) {
      return el("button", { type: "button", className: "case-link", onclick: () => openCase(id, null) }, id);
    }
    if (/^[A-Za-z0-9_.\/-]+$/.test(line.page) && !line.page.includes("..")) {
      return el("a", { href: line.page + "#case=" + encodeURIComponent(id) }, id);
    }
    return el("code", {}, id);
  }

  function timelines() {
    const lines = data.history || [];
    if (!lines.length) return null;
    const section = el("section", { id: "timeline", ariaLabel: "Timeline" }, el("h2", {}, "Timeline across versions"));
    lines.forEach((line) => {
      const body = el("tbody");
      line.versions.forEach((version) => {
        const summary = version.summary || {};
        body.appendChild(el("tr", { dataset: { version: version.version } },
          el("th", { scope: "row" }, version.version),
          el("td", {}, version.runtime || "?"),
          data.outcomes.map((outcome) => el("td", { className: "num" }, String(summary[outcome] ?? 0))),
          el("td", { className: "changes" }, version.changes.length
            ? el("ul", {}, version.changes.map((change) => el("li", {}, caseRef(line, change.case), " ",
                outcomeBadge(change.before), " → ", outcomeBadge(change.after),
                change.first ? " (first in " + change.first + ", bisected)" : "")))
            : (version.error ? "run failed: " + version.error : "–"))));
      });
      (line.unusable || []).forEach((item) => body.appendChild(el("tr", { className: "unusable" },
        el("th", { scope: "row" }, item.version), el("td", { colSpan: data.outcomes.length + 2 }, "cannot run: " + item.reason))));
      add(section,
        el("table", { className: "timeline", dataset: { family: line.family } },
          el("caption", {}, line.family + ": " + plural(line.versions.length, "version") + ", oldest first"
            + " · spec revision " + ((line.spec_revisions || []).join(", ") || "?")
            + (data.current_spec_revision && (line.spec_revisions || []).some((r) => r !== data.current_spec_revision) ? " (stale)" : "")
            + " · run on " + ((line.run_dates || []).join(" to ") || "?")),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "version"), el("th", { scope: "col" }, "runtime"),
            data.outcomes.map((outcome) => el("th", { scope: "col" }, outcomeBadge(outcome))),
            el("th", { scope: "col" }, "cases that changed from the previous version"))),
          body),
        (line.commands || []).length
          ? el("p", { className: "hint" }, "Regenerate with ", line.commands.map((command, i) => [i ? ", then " : null, el("code", {}, command)]))
          : null);
    });
    return section;
  }

  // -- the matrix ---------------------------------------------------------------------------

  function checkbox(name, value, label) {
    const id = "f-" + name + "-" + value;
    const count = el("span", { className: "count" });
    const input = el("input", { type: "checkbox", id: id, name: name, value: value, checked: true, defaultChecked: true });
    return { input: input, count: count, node: el("label", { for: id, className: "check" }, input, " ", label, " ", count) };
  }

  function filters() {
    const form = el("form", { id: "filters", role: "search", ariaLabel: "Filter cases" });
    form.addEventListener("submit", (event) => event.preventDefault());
    const outcomeBoxes = data.outcomes.map((outcome) => checkbox("outcome", outcome, outcomeBadge(outcome)));
    const levelBoxes = data.levels.map((level) => checkbox("level", level, level));
    const tags = Array.from(new Set(data.cases.flatMap((row) => row.tags))).sort();
    const tagSelect = el("select", { id: "f-tag", name: "tag" },
      el("option", { value: "" }, "any tag"), tags.map((tag) => el("option", { value: tag }, tag)));
    const search = el("input", { type: "search", id: "f-search", name: "search", placeholder: "e.g. half-open", autocomplete: "off" });
    const differ = el("input", { type: "checkbox", id: "f-differ", name: "differ" });
    add(form, 
      el("fieldset", {}, el("legend", {}, "Outcome (any implementation)"), outcomeBoxes.map((box) => box.node)),
      el("fieldset", {}, el("legend", {}, "Level"), levelBoxes.map((box) => box.node)),
      el("fieldset", {}, el("legend", {}, "Find"),
        el("label", { for: "f-tag" }, "Tag "), tagSelect, " ",
        el("label", { for: "f-search" }, "Case id or title "), search,
        impls.length > 1 ? [" ", el("label", { for: "f-differ", className: "check" }, differ, " only where implementations differ")] : null),
      el("div", { className: "buttons" },
        el("button", { type: "button", id: "f-reset", onclick: () => { form.reset(); update(); } }, "Reset filters"),
        el("button", { type: "button", onclick: () => state.areas.forEach((area) => { area.details.open = true; }) }, "Expand all areas"),
        el("button", { type: "button", onclick: () => state.areas.forEach((area) => { area.details.open = false; }) }, "Collapse all areas")));
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    state.filters = { outcomeBoxes, levelBoxes, tagSelect, search, differ };
    return form;
  }

  function cellFor(row, index) {
    const result = row.results[index];
    if (!result) return el("td", { className: "cell missing" }, el("span", { ariaLabel: impls[index].name + ": not run" }, "·"));
    const mark = result.known ? "*" : "";
    const note = result.not_run_here ? " (not run here: the run lacked what the case needs)"
      : result.known ? " (recorded in the expectations file)" : result.unexpected ? " (unexpected)" : "";
    const button = el("button", {
      type: "button", className: "cell-button", title: impls[index].name + ": " + result.outcome + note,
      ariaLabel: row.id + " on " + impls[index].name + ": " + result.outcome + note,
      onclick: () => openCase(row.id, index),
    }, outcomeBadge(result.outcome, result.not_run_here ? " · not run here" : mark));
    return el("td", { className: "cell o-" + result.outcome + (result.not_run_here ? " not-run-here" : ""),
      dataset: { outcome: result.outcome } }, button);
  }

  function matrix() {
    const container = el("div", { id: "matrix" });
    const byArea = new Map();
    data.cases.forEach((row) => {
      if (!byArea.has(row.area)) byArea.set(row.area, []);
      byArea.get(row.area).push(row);
    });
    for (const [area, rows] of Array.from(byArea.entries()).sort()) {
      const count = el("span", { className: "count" });
      const tbody = el("tbody");
      const details = el("details", { className: "area", open: true, dataset: { area: area } },
        el("summary", {}, el("span", { className: "area-name" }, area), " ", count),
        el("table", { className: "matrix" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "case"), el("th", { scope: "col" }, "level"),
            impls.map((impl) => el("th", { scope: "col", className: "impl" }, impl.name)))),
          tbody));
      const areaState = { name: area, details: details, count: count, rows: [] };
      rows.forEach((row) => {
        const open = el("button", { type: "button", className: "case-link", title: row.title, onclick: () => openCase(row.id, null) }, row.id);
        const tr = el("tr", { className: "case", dataset: { caseId: row.id } },
          el("th", { scope: "row" }, open, el("div", { className: "case-title" }, row.title)),
          el("td", { className: "level l-" + row.level }, row.level),
          impls.map((impl, index) => cellFor(row, index)));
        tbody.appendChild(tr);
        const entry = { row: row, tr: tr, opener: open };
        state.rows.push(entry);
        areaState.rows.push(entry);
      });
      state.areas.push(areaState);
      container.appendChild(details);
    }
    return container;
  }

  function legend() {
    return el("p", { className: "legend" }, "Legend: ",
      data.outcomes.map((outcome) => [outcomeBadge(outcome), " "]),
      "· * the outcome is recorded in the implementation's expectations file; ",
      "“not run here”: a skip because the run lacked what the case needs (not a gap; in no score). ",
      "Click a case id or a cell for its transcript.");
  }

  function outcomesOf(row) {
    return row.results.filter(Boolean).map((result) => result.outcome);
  }

  // The rows the filters keep, and the counts shown next to each filter.
  function update() {
    const f = state.filters;
    const outcomes = new Set(f.outcomeBoxes.filter((box) => box.input.checked).map((box) => box.input.value));
    const levels = new Set(f.levelBoxes.filter((box) => box.input.checked).map((box) => box.input.value));
    const tag = f.tagSelect.value;
    const text = f.search.value.trim().toLowerCase();
    const differ = f.differ.checked;
    const outcomeCounts = Object.fromEntries(data.outcomes.map((outcome) => [outcome, 0]));
    const levelCounts = Object.fromEntries(data.levels.map((level) => [level, 0]));
    let shown = 0;
    state.rows.forEach((entry) => {
      const row = entry.row;
      const seen = outcomesOf(row);
      const keptByOthers = (!tag || row.tags.includes(tag))
        && (!text || row.id.toLowerCase().includes(text) || row.title.toLowerCase().includes(text))
        && (!differ || new Set(seen).size > 1 || seen.length < impls.length);
      const outcomeOk = seen.some((outcome) => outcomes.has(outcome));
      const levelOk = levels.has(row.level);
      if (keptByOthers && levelOk) new Set(seen).forEach((outcome) => { if (outcome in outcomeCounts) outcomeCounts[outcome] += 1; });
      if (keptByOthers && outcomeOk && row.level in levelCounts) levelCounts[row.level] += 1;
      entry.visible = keptByOthers && outcomeOk && levelOk;
      entry.tr.hidden = !entry.visible;
      if (entry.visible) shown += 1;
    });
    state.areas.forEach((area) => {
      const visible = area.rows.filter((entry) => entry.visible);
      area.details.hidden = visible.length === 0;
      const tally = data.outcomes.map((outcome) => {
        const n = visible.reduce((sum, entry) => sum + entry.row.results.filter((r) => r && r.outcome === outcome).length, 0);
        return n ? data.symbols[outcome] + " " + n : null;
      }).filter(Boolean).join("  ");
      area.count.textContent = visible.length + " of " + plural(area.rows.length, "case") + (tally ? " · " + tally : "");
    });
    f.outcomeBoxes.forEach((box) => { box.count.textContent = "(" + outcomeCounts[box.input.value] + ")"; });
    f.levelBoxes.forEach((box) => { box.count.textContent = "(" + levelCounts[box.input.value] + ")"; });
    state.status.textContent = "Showing " + shown + " of " + plural(state.rows.length, "case") + ".";
    state.status.dataset.shown = String(shown);
  }

  // -- one case -------------------------------------------------------------------------------

  // A behaviour id links to its section of spec/behaviours.md (a path relative to this page, which
  // the report wrote into data.links); a document or issue to its web page; anything else is text.
  const links = data.links && typeof data.links === "object" && !Array.isArray(data.links) ? data.links : {};

  function sourceItem(source) {
    const known = Object.prototype.hasOwnProperty.call(links, source) && typeof links[source] === "string";
    const target = known ? links[source] : source;
    if (known || /^https?:\/\//i.test(source)) {
      let url = null;
      try { url = new URL(target, document.baseURI); } catch (e) { url = null; }
      const schemes = known ? ["https:", "http:", "file:"] : ["https:", "http:"];
      if (url && schemes.includes(url.protocol)) {
        return el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank" }, source);
      }
    }
    return el("code", {}, source);
  }

  // One row per transcript entry: step, line, action, sent, observed, expected, problem / note.
  // The "sent" column shows each step's request (to the adapter, or asked of the peer).
  function transcriptRow(entry) {
    if (!entry || typeof entry !== "object") return { cells: ["", "", "", undefined, entry, undefined, ""] };
    if (entry.step === "end") {
      const judged = entry.judged ? "judged: open sockets and unhandled rejections count" : "not judged: the outcome was already decided";
      return { className: "end", cells: ["end", entry.line ?? "", "end of case", undefined, entry.reply, undefined, judged] };
    }
    if (!("step" in entry)) return { cells: ["", "", "", undefined, undefined, undefined, show(entry)] };
    const notes = [
      entry.problem !== undefined ? el("div", { className: "problem" }, String(entry.problem)) : null,
      entry.note !== undefined ? el("div", { className: "note" }, "note: " + String(entry.note)) : null];
    return {
      className: entry.problem !== undefined ? "has-problem" : "",
      cells: [String(entry.step), entry.line ?? "", el("code", {}, String(entry.action ?? "")),
        entry.request, entry.observed, entry.expected, notes],
    };
  }

  function transcriptTable(transcript) {
    const variables = transcript.find((entry) => entry && typeof entry === "object" && "variables" in entry);
    const nodes = [];
    if (variables && variables.variables && typeof variables.variables === "object") {
      nodes.push(el("details", { className: "variables" }, el("summary", {}, "Variables"),
        el("dl", {}, Object.entries(variables.variables).map(([key, value]) => [el("dt", {}, key), el("dd", {}, show(value))]))));
    }
    const heads = ["step", "line", "action", "sent", "observed", "expected", "problem / note"];
    const valueColumns = new Set([3, 4, 5]);
    const rows = transcript.filter((entry) => entry !== variables).map(transcriptRow);
    const withSent = rows.some((row) => row.cells[3] !== undefined);
    const keep = (index) => index !== 3 || withSent;
    const body = el("tbody", {}, rows.map((row) => el("tr", { className: row.className || "" },
      row.cells.map((cell, index) => (keep(index) ? el("td", {}, valueColumns.has(index) ? code(cell) : cell) : null)))));
    nodes.push(el("table", { className: "transcript" },
      el("thead", {}, el("tr", {}, heads.map((name, index) => (keep(index) ? el("th", { scope: "col" }, name) : null)))), body));
    return nodes;
  }

  function caseView(row, focusIndex) {
    const view = state.caseView;
    view.replaceChildren();
    const back = el("button", { type: "button", className: "back", onclick: closeCase }, "← All cases");
    const heading = el("h2", { tabIndex: -1 }, row.title || row.id);
    add(view, back, heading,
      el("dl", { className: "case-facts" },
        el("dt", {}, "id"), el("dd", {}, el("code", { className: "case-id" }, row.id)),
        el("dt", {}, "level"), el("dd", {}, row.level),
        el("dt", {}, "tags"), el("dd", {}, row.tags.length ? row.tags.map((tag, i) => [i ? " " : null, el("span", { className: "tag" }, tag)]) : "–"),
        el("dt", {}, "sources"), el("dd", {}, row.source.length ? row.source.map((source, i) => [i ? ", " : null, sourceItem(source)]) : "–"),
        el("dt", {}, "location"), el("dd", {}, el("code", {}, row.location || "?"))));
    row.results.forEach((result, index) => {
      const impl = impls[index];
      const section = el("section", { className: "impl-result", id: "result-" + index, dataset: { impl: String(index) } });
      if (!result) {
        add(section, el("h3", {}, impl.name + ": not run"));
        view.appendChild(section);
        return;
      }
      add(section, 
        el("h3", {}, impl.name + " ", outcomeBadge(result.outcome)),
        el("p", { className: "facts" },
          typeof result.duration_ms === "number" ? "took " + result.duration_ms.toFixed(1) + " ms" : null,
          result.not_run_here ? " · not run here: the run lacked what the case needs (in no score)" : null,
          result.known ? " · recorded in the expectations file" : null,
          result.unexpected ? " · unexpected by the run's gate" : null),
        result.message ? el("pre", { className: "message" }, result.message) : null,
        result.transcript.length ? transcriptTable(result.transcript) : el("p", {}, "No transcript."));
      view.appendChild(section);
    });
    const target = focusIndex === null || focusIndex === undefined ? null : view.querySelector("#result-" + focusIndex);
    return { heading: heading, target: target };
  }

  function openCase(id, index) {
    state.lastOpened = id;
    state.scrollY = window.scrollY;
    location.hash = "case=" + encodeURIComponent(id) + (index === null || index === undefined ? "" : "&impl=" + index);
  }

  function closeCase() {
    location.hash = "";
  }

  function route() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const id = params.get("case");
    const row = id === null ? null : data.cases.find((candidate) => candidate.id === id);
    if (!row) {
      state.caseView.hidden = true;
      state.main.forEach((node) => { node.hidden = false; });
      const entry = state.rows.find((candidate) => candidate.row.id === state.lastOpened);
      window.scrollTo(0, state.scrollY);
      if (entry) entry.opener.focus({ preventScroll: true });
      return;
    }
    const impl = params.get("impl");
    const shown = caseView(row, impl === null ? null : Number(impl));
    state.main.forEach((node) => { node.hidden = true; });
    state.caseView.hidden = false;
    if (shown.target) shown.target.scrollIntoView();
    else window.scrollTo(0, 0);
    shown.heading.focus({ preventScroll: true });
  }

  // -- the page -------------------------------------------------------------------------------

  state.status = el("p", { id: "status", role: "status", ariaLive: "polite" });
  const matrixSection = el("section", { id: "matrix-view", ariaLabel: "Cases" },
    el("h2", {}, "Cases by implementation"), filters(), state.status, legend(), matrix());
  const scoreSection = scores();
  const driverSection = driversSection();
  const fixSection = fixFirst();
  const timelineSection = timelines();
  state.caseView = el("section", { id: "case-view", hidden: true, ariaLabel: "Case" });
  state.main = [scoreSection, driverSection, fixSection, timelineSection, matrixSection].filter(Boolean);
  add(app, header(), scoreSection, driverSection, fixSection, timelineSection, matrixSection, state.caseView);
  update();
  window.addEventListener("hashchange", route);
  route();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !state.caseView.hidden) closeCase();
  });
  app.removeAttribute("aria-busy");
  document.documentElement.dataset.ready = "true";
})();
