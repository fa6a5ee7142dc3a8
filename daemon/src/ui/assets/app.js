// Fathom's trace viewer: the daemon's tasks, live and past, step by step.
// Plain DOM, no framework, no network but the daemon's own API (or, under
// `fathom view FILE`, the one trace file it serves).
"use strict";

const FOLD = 2000; // characters of a long text shown before "show all"
const FINAL = ["succeeded", "failed", "cancelled", "interrupted"];
const fileMode = document.body.dataset.mode === "trace";

const $ = (sel, el = document) => el.querySelector(sel);
function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k.nodeType ? k : String(k));
  return e;
}

// ---- the daemon's API ------------------------------------------------------

// On TCP the API wants the bearer token: open /ui#token=... once; it is kept
// for this tab only, and taken out of the address bar.
(function takeToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("fathom-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + "#/");
  }
})();
function authHeaders() {
  const t = sessionStorage.getItem("fathom-token");
  return t ? { Authorization: "Bearer " + t } : {};
}
async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: { ...authHeaders(), ...(opts.headers || {}) } });
  const text = await r.text();
  let body = text;
  try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${r.status}`);
  return body;
}

// Server-Sent Events over fetch (EventSource cannot send the token),
// reconnecting with Last-Event-ID until the stream ends cleanly.
async function streamEvents(id, live, signal, onEvent) {
  let after = 0;
  for (let failures = 0; failures < 20; ) {
    let r;
    try {
      r = await fetch(`/v1/tasks/${encodeURIComponent(id)}/events?follow=${live}`,
        { headers: { ...authHeaders(), "Last-Event-ID": String(after) }, signal });
    } catch (e) {
      if (signal.aborted) return;
      failures++; await sleep(500 * failures); continue;
    }
    if (!r.ok) throw new Error(`events: HTTP ${r.status}`);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let seq = null, data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) seq = line.slice(3).trim();
            else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
          }
          if (seq) after = Number(seq);
          if (data) { try { onEvent(JSON.parse(data)); } catch (_) { /* a broken event is skipped */ } }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      failures++; await sleep(500 * failures);
    }
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- formatting ------------------------------------------------------------

function duration(a, b) {
  if (!a) return "";
  const s = ((b ? Date.parse(b) : Date.now()) - Date.parse(a)) / 1000;
  if (!(s >= 0)) return "";
  return s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.floor(s / 60)} m ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`;
}
const when = (t) => (t ? new Date(t).toLocaleString() : "");
const tokens = (u) => (u ? (u.prompt_tokens || 0) + (u.completion_tokens || 0) : 0);
const badge = (s) => h("span", { class: `badge ${s}` }, s);

// Markers the runtime leaves where it cut a text, highlighted so a reader
// sees what the model did not.
const CUT = /\[[^\]\n]{0,200}(?:truncat|omitted|cut )[^\]\n]{0,200}\]|Tool result is omitted to save tokens\./gi;
function withMarks(text) {
  const pre = h("pre");
  let last = 0;
  for (const m of text.matchAll(CUT)) {
    pre.append(text.slice(last, m.index), h("mark", { class: "cut", title: "cut by the runtime" }, m[0]));
    last = m.index + m[0].length;
  }
  pre.append(text.slice(last));
  return pre;
}

// A long text folded to its first FOLD characters, with a button for the rest.
function folded(text) {
  text = text == null ? "" : String(text);
  if (text.length <= FOLD) return withMarks(text);
  const box = h("div");
  const show = (all) => {
    box.replaceChildren(withMarks(all ? text : text.slice(0, FOLD)),
      h("button", { class: "fold", onclick: () => show(!all) },
        all ? "fold" : `show all ${text.length.toLocaleString()} characters (${(text.length - FOLD).toLocaleString()} more)`));
  };
  show(false);
  return box;
}

// A collapsible step whose body is built only when first opened: a
// 600-turn task renders its headers, not its megabytes of results.
function lazyDetails(cls, summary, build, open = false) {
  const d = h("details", { class: `step ${cls}`, tabindex: "-1" }, h("summary", {}, summary));
  let built = false;
  const fill = () => { if (!built && d.open) { built = true; d.append(build()); } };
  d.addEventListener("toggle", fill);
  if (open) { d.open = true; fill(); }
  return d;
}

// ---- the timeline of one task ------------------------------------------------

class Timeline {
  constructor(el) { this.el = el; this.turn = null; this.turns = new Map(); this.steps = 0; }

  section(n) {
    if (n === undefined || n === null) return this.turn || this.el;
    let s = this.turns.get(n);
    if (!s) {
      s = h("section", { class: "turn", id: `turn-${n}` }, h("h3", {}, `Turn ${n}`));
      this.turns.set(n, s);
      this.el.append(s);
    }
    this.turn = s;
    return s;
  }

  add(e) {
    const step = this.render(e);
    if (!step) return;
    this.steps++;
    if (!step.hasAttribute("tabindex")) step.setAttribute("tabindex", "-1");
    this.section(e.turn).append(step);
  }

  render(e) {
    const meta = (t) => h("span", { class: "meta" }, t);
    switch (e.type) {
      case "turn": this.section(e.turn); return null;
      case "model_call":
        return h("div", { class: "step model" },
          `model request · ${Math.round(e.ms)} ms · ${e.prompt_tokens} prompt + ${e.completion_tokens} completion tokens`);
      case "assistant": {
        const text = e.content || "";
        return lazyDetails("reasoning", [e.summary ? "Final summary" : "Model reply", " ", meta(`· ${text.length.toLocaleString()} characters`)],
          () => folded(text));
      }
      case "tool_call":
        return h("div", { class: "step call" }, "call ", h("span", { class: "name" }, `${e.server}.${e.tool}`),
          folded(JSON.stringify(e.arguments, null, 2)));
      case "tool_result": {
        const out = e.output || "";
        const usage = e.usage ? ` · ${tokens(e.usage)} tokens` : "";
        return lazyDetails(`result ${e.ok ? "ok" : "failed"}`,
          [`${e.ok ? "result" : "failed"} `, h("span", { class: "name" }, `${e.server}.${e.tool}`),
            meta(` · ${Math.round(e.wall_ms || 0)} ms · ${out.length.toLocaleString()} characters${usage}`)],
          () => folded(out));
      }
      case "intervention":
        return h("div", { class: "step flag intervention" }, "intervention ", h("span", { class: "key" }, e.kind), " ", e.message);
      case "rollback":
        return h("div", { class: "step flag rollback" }, "rolled back: ", e.reason);
      case "limit":
        return h("div", { class: "step flag limit" }, "limit hit ", h("span", { class: "key" }, e.key), " ", e.message);
      case "note":
        return h("div", { class: "step note" }, h("span", { class: "key" }, e.kind), " ", e.message);
      case "attempt":
        return lazyDetails("flag attempt", `attempt ${e.attempt} starts afresh`, () => folded(e.failure_summary || ""));
      case "answer":
        return h("div", { class: "step answer" }, "answer: ", e.answer);
      case "error":
        return h("div", { class: "step flag error" }, "error: ", e.message);
      case "log":
        return h("div", { class: "step note" }, h("span", { class: "key" }, e.name), " ", e.message);
      default:
        return null;
    }
  }
}

// ---- keyboard ----------------------------------------------------------------

let keyHandler = null;
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (keyHandler) keyHandler(ev);
});

// Move between the elements `items()` gives, `j`/`k` or the arrows.
function moveFocus(items, delta, current) {
  const list = items();
  if (!list.length) return null;
  let i = list.indexOf(current);
  if (i < 0) i = delta > 0 ? -1 : list.length; // from outside the list: j to the first, k to the last
  i = Math.max(0, Math.min(list.length - 1, i + delta));
  const el = list[i];
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: "nearest" });
  return el;
}

// ---- pages -------------------------------------------------------------------

let leave = () => {};

function route() {
  leave();
  leave = () => {};
  keyHandler = null;
  const hash = location.hash.slice(1) || "/";
  if (fileMode) return filePage();
  if (hash.startsWith("/task/")) return taskPage(decodeURIComponent(hash.slice(6).split("?")[0]));
  return listPage(new URLSearchParams(hash.split("?")[1] || "").get("status") || "");
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

function listPage(status) {
  document.title = "Fathom · tasks";
  $("#where").textContent = "tasks";
  const main = $("#main");
  const filter = h("select", { id: "status-filter", "aria-label": "status",
    onchange: () => { location.hash = filter.value ? `#/?status=${filter.value}` : "#/"; } },
    ["", "queued", "running", "succeeded", "failed", "cancelled", "interrupted"].map((s) =>
      h("option", { value: s, selected: s === status }, s || "all statuses")));
  const info = h("span", { class: "muted" });
  const body = h("tbody");
  const table = h("table", { id: "tasks" },
    h("colgroup", {}, ["status", "q", "a", "n", "n", "tok", "dur", "when"].map((c) => h("col", { class: c }))),
    h("thead", {}, h("tr", {}, h("th", {}, "Status"), h("th", {}, "Question"), h("th", {}, "Answer"),
      h("th", { class: "num" }, "Turns"), h("th", { class: "num" }, "Calls"), h("th", { class: "num" }, "Tokens"),
      h("th", { class: "num" }, "Duration"), h("th", {}, "Created"))),
    body);
  main.replaceChildren(h("div", { class: "toolbar" }, h("label", {}, "Show ", filter), info), table);
  const open = (id) => { location.hash = `#/task/${encodeURIComponent(id)}`; };
  let selected = null;
  let stopped = false;
  async function load() {
    let data;
    try {
      data = await api(`/v1/tasks${status ? `?status=${status}` : ""}`);
    } catch (e) {
      info.textContent = e.message; info.className = "error"; return;
    }
    if (stopped) return;
    const tasks = data.tasks || [];
    info.className = "muted";
    info.textContent = `${tasks.length} task${tasks.length === 1 ? "" : "s"}, newest first`;
    const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    body.replaceChildren(...tasks.map((t) => h("tr", {
      tabindex: "0", "data-id": t.id, "data-status": t.status, class: t.id === selected ? "selected" : "",
      onclick: () => open(t.id), onfocus: () => { selected = t.id; },
    },
    h("td", {}, badge(t.status)),
    h("td", { title: t.question }, t.question),
    h("td", { title: t.answer || t.error || "" }, t.answer || (t.error ? h("span", { class: "error" }, t.error) : "")),
    h("td", { class: "num" }, t.turns), h("td", { class: "num" }, t.tool_calls),
    h("td", { class: "num" }, tokens(t.usage).toLocaleString()),
    h("td", { class: "num" }, duration(t.started_at, t.finished_at)),
    h("td", { title: t.created_at }, when(t.created_at)))));
    if (focusedId) { const row = body.querySelector(`tr[data-id="${CSS.escape(focusedId)}"]`); if (row) row.focus({ preventScroll: true }); }
    if (!tasks.length) body.append(h("tr", {}, h("td", { colspan: "8", class: "muted" }, "No tasks yet.")));
  }
  load();
  const timer = setInterval(load, 2000);
  leave = () => { stopped = true; clearInterval(timer); };
  keyHandler = (ev) => {
    const rows = () => [...body.querySelectorAll("tr[data-id]")];
    if (ev.key === "j" || ev.key === "ArrowDown") { moveFocus(rows, 1, document.activeElement); ev.preventDefault(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { moveFocus(rows, -1, document.activeElement); ev.preventDefault(); }
    else if (ev.key === "Enter" && document.activeElement && document.activeElement.dataset.id) open(document.activeElement.dataset.id);
  };
}

// The header of a task page: question, attachments, figures, answer, actions.
function taskHead(t, actions) {
  return h("div", { class: "task-head", id: "head" },
    h("div", { class: "facts" }, badge(t.status), h("span", {}, "policy ", h("b", {}, t.policy || "")),
      h("span", {}, h("b", { id: "turns" }, t.turns), " turns"), h("span", {}, h("b", {}, t.tool_calls), " tool calls"),
      h("span", {}, h("b", {}, tokens(t.usage).toLocaleString()), " tokens"),
      t.started_at ? h("span", {}, h("b", {}, duration(t.started_at, t.finished_at)), FINAL.includes(t.status) ? "" : " so far") : null,
      t.created_at ? h("span", {}, when(t.created_at)) : null),
    h("div", { class: "question" }, t.question),
    t.files && t.files.length ? h("div", { class: "facts" }, "attachments: ", t.files.map((f) => h("span", { class: "key" }, f))) : null,
    t.answer ? h("div", { class: "final", id: "answer" }, "Answer: ", t.answer) : null,
    t.error ? h("div", { class: "final failed", id: "task-error" }, t.error) : null,
    t.extra || null,
    actions || null);
}

async function taskPage(id) {
  document.title = `Fathom · ${id}`;
  $("#where").textContent = id;
  const main = $("#main");
  const ctl = new AbortController();
  leave = () => ctl.abort();
  let record;
  try {
    record = await api(`/v1/tasks/${encodeURIComponent(id)}`);
  } catch (e) {
    main.replaceChildren(h("p", { class: "error" }, e.message), h("a", { href: "#/" }, "all tasks"));
    return;
  }
  const status = h("span", { class: "muted", id: "action-status" });
  const act = (what) => async () => {
    status.textContent = `${what}…`;
    try { await api(`/v1/tasks/${encodeURIComponent(id)}/${what}`, { method: "POST" }); status.textContent = ""; await refresh(); }
    catch (e) { status.textContent = e.message; status.className = "error"; }
  };
  const cancel = h("button", { id: "cancel", onclick: act("cancel") }, "Cancel");
  const resume = h("button", { id: "resume", onclick: act("resume") }, "Resume");
  const actions = h("div", { class: "actions" }, cancel, resume, status);
  let head = h("div");
  async function refresh() {
    try { record = await api(`/v1/tasks/${encodeURIComponent(id)}`); } catch (_) { return; }
    cancel.hidden = !["queued", "running", "interrupted"].includes(record.status);
    resume.hidden = !["interrupted", "failed"].includes(record.status);
    const next = taskHead(record, actions);
    head.replaceWith(next);
    head = next;
    document.body.dataset.status = record.status;
  }
  const timeline = h("div", { id: "timeline" });
  main.replaceChildren(head, timeline);
  await refresh();
  const tl = new Timeline(timeline);
  keyHandler = stepKeys(timeline);
  const t0 = performance.now();
  let pending = null;
  // Streams resume when the task does: follow until it is final.
  for (let round = 0; round < 100 && !ctl.signal.aborted; round++) {
    const live = !FINAL.includes(record.status);
    await streamEvents(id, live, ctl.signal, (e) => {
      if (e.type === "status") { clearTimeout(pending); pending = setTimeout(refresh, 50); return; }
      tl.add(e);
      if (e.type === "turn" || e.type === "answer" || e.type === "error") { clearTimeout(pending); pending = setTimeout(refresh, 200); }
    });
    if (round === 0) { window.fathomRendered = performance.now() - t0; document.body.dataset.rendered = "1"; }
    await refresh();
    if (FINAL.includes(record.status)) {
      // A resumed task goes on: watch for that while the page is open.
      while (!ctl.signal.aborted && FINAL.includes(record.status)) { await sleep(2000); await refresh(); }
      tl.el.replaceChildren(); tl.turns.clear(); tl.turn = null;
    }
  }
}

function stepKeys(timeline) {
  return (ev) => {
    const steps = () => [...timeline.querySelectorAll(".step")];
    const cur = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".step") : null;
    if (ev.key === "j" || ev.key === "ArrowDown") { mark(moveFocus(steps, 1, cur)); ev.preventDefault(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { mark(moveFocus(steps, -1, cur)); ev.preventDefault(); }
    else if (ev.key === "g" || ev.key === "Home") { mark(moveFocus(steps, -1e9, cur)); ev.preventDefault(); }
    else if (ev.key === "G" || ev.key === "End") { mark(moveFocus(steps, 1e9, cur)); ev.preventDefault(); }
    else if ((ev.key === "Enter" || ev.key === " ") && cur) {
      if (cur.tagName === "DETAILS") cur.open = !cur.open;
      else { const b = cur.querySelector("button.fold"); if (b) b.click(); }
      ev.preventDefault();
    } else if (ev.key === "Escape" && !fileMode) location.hash = "#/";
  };
}
function mark(el) {
  document.querySelectorAll(".step.focused").forEach((s) => s.classList.remove("focused"));
  if (el) el.classList.add("focused");
}

// `fathom view FILE`: one trajectory file, Fathom's or MiroThinker's own.
async function filePage() {
  const main = $("#main");
  let trace;
  try { trace = await api("/ui/trace.json"); } catch (e) { main.replaceChildren(h("p", { class: "error" }, e.message)); return; }
  const input = trace.input || {};
  const events = traceEvents(trace);
  const record = {
    status: trace.status === "success" ? "succeeded" : (trace.status || "unknown"),
    policy: trace.policy || "",
    question: input.task_description || "",
    files: input.task_file_name ? String(input.task_file_name).split(", ").filter(Boolean) : [],
    answer: trace.final_boxed_answer || null,
    error: trace.error || null,
    turns: events.filter((e) => e.type === "turn").length,
    tool_calls: events.filter((e) => e.type === "tool_call").length,
    usage: trace.usage,
    started_at: trace.start_time, finished_at: trace.end_time, created_at: trace.start_time,
    extra: trace.ground_truth != null ? h("div", { class: "facts" }, "ground truth: ", h("b", {}, String(trace.ground_truth)),
      trace.final_judge_result ? h("span", {}, " judged ", h("b", {}, trace.final_judge_result)) : null) : null,
  };
  document.title = `Fathom · ${trace.task_id || "trace"}`;
  $("#where").textContent = trace.task_id || "trace";
  const timeline = h("div", { id: "timeline" });
  main.replaceChildren(taskHead(record, null), timeline);
  const t0 = performance.now();
  const tl = new Timeline(timeline);
  for (const e of events) tl.add(e);
  window.fathomRendered = performance.now() - t0;
  document.body.dataset.rendered = "1";
  keyHandler = stepKeys(timeline);
}

// The steps of a trace: Fathom's step logs carry the loop's events as
// metadata; MiroThinker's own logs are rebuilt from the conversation.
function traceEvents(trace) {
  const logs = trace.step_logs || [];
  if (logs.some((s) => s.metadata && s.metadata.type)) return logs.map((s) => s.metadata).filter((m) => m && m.type);
  const history = ((trace.main_agent_message_history || {}).message_history) || [];
  const events = [];
  let turn = 0;
  history.forEach((m, i) => {
    const content = typeof m.content === "string" ? m.content
      : Array.isArray(m.content) ? m.content.map((c) => c.text || "").join("\n") : "";
    if (m.role === "assistant") {
      turn++;
      events.push({ type: "turn", turn }, { type: "assistant", turn, content });
      for (const c of content.matchAll(/<use_mcp_tool>[\s\S]*?<server_name>([\s\S]*?)<\/server_name>[\s\S]*?<tool_name>([\s\S]*?)<\/tool_name>[\s\S]*?<arguments>([\s\S]*?)<\/arguments>/g)) {
        let args = c[3].trim();
        try { args = JSON.parse(args); } catch (_) { /* shown as written */ }
        events.push({ type: "tool_call", turn, server: c[1].trim(), tool: c[2].trim(), arguments: args });
      }
    } else if (i > 0 && (m.role === "user" || m.role === "tool")) {
      events.push({ type: "tool_result", turn, server: "", tool: m.role === "tool" ? "result" : "user message", ok: true, output: content });
    }
  });
  for (const s of logs) if (s.step_name) events.push({ type: "log", name: s.step_name, message: s.message || "" });
  return events;
}
