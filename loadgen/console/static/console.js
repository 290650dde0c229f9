// The demo console: polls the load generator's own API (never the services: the fault token stays server side).
"use strict";

const POLL_MS = 2000;
// The graphs' step is 5 s on the server (loadgen/console/graphs.py): polling faster would fetch the same window.
const GRAPHS_MS = 5000;
let scenarios = [];

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || `${method} ${path} failed with HTTP ${response.status}`);
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function say(text) { document.getElementById("message").textContent = text || ""; }

function ms(seconds) { return seconds == null ? "-" : `${Math.round(seconds * 1000)} ms`; }

function scenarioCard(s) {
  // A broken pipeline delivers no alert: the inbox's own "Alerting pipeline broken" banner tells instead.
  const alerts = el("p", { class: "alerts" }, "Expected alerts: ",
    ...s.expected_alerts.flatMap((a, i) => [i ? ", " : "", el("code", {}, a)]),
    ...(s.dead_mans_switch ? [s.expected_alerts.length ? "; and " : "none can arrive; ",
                             "the inbox's \"Alerting pipeline broken\" banner"] : []));
  return el("article", { class: "scenario", id: `scenario-${s.name}`, "data-name": s.name },
    el("span", { class: "state" }),
    el("h3", {}, `${s.title} `, el("span", { class: "muted" }, `(${s.name})`)),
    el("p", {}, s.description),
    alerts,
    el("p", { class: "muted" },
      `${s.stops_process ? `Stops ${s.service}` : `Changes ${s.service} ${s.knob}`}; lasts ${s.default_duration_seconds} s. `,
      el("a", { href: s.dashboard_url, target: "_blank", rel: "noopener" }, `Dashboard: ${s.dashboard.panel}`), " | ",
      el("a", { href: s.runbook_url, target: "_blank", rel: "noopener" }, "Runbook")),
    el("button", { class: "start", "data-action": "start", onclick: () => change("POST", s) }, "Start"),
    el("button", { class: "stop", "data-action": "stop", onclick: () => change("DELETE", s) }, "Stop"));
}

// Cards are built once and then only updated, so a click never lands on a card being replaced.
function renderScenarios() {
  const list = document.getElementById("scenarios");
  if (list.children.length !== scenarios.length) list.replaceChildren(...scenarios.map(scenarioCard));
  for (const s of scenarios) {
    const card = document.getElementById(`scenario-${s.name}`);
    card.classList.toggle("active", Boolean(s.active));
    card.querySelector(".state").textContent = s.active ? `ACTIVE, ${Math.round(s.active.seconds_left)} s left` : "";
    card.querySelector("button.stop").disabled = !s.active;
    // A second Start would silently restart the scenario's timer: one run at a time, Stop ends it.
    card.querySelector("button.start").disabled = Boolean(s.active) || starting.has(s.name);
  }
}

// Scenarios whose Start was clicked and not answered yet: a double click must not post twice.
const starting = new Set();

async function change(method, scenario) {
  if (method === "POST") {
    starting.add(scenario.name);
    renderScenarios();
  }
  try {
    say(method === "POST" ? `Starting ${scenario.name}...` : `Stopping ${scenario.name}...`);
    await api(method, `/api/scenarios/${scenario.name}`, {});
    say("");
  } catch (error) {
    say(error.message);
  } finally {
    starting.delete(scenario.name);
    refreshGraphs();  // shade the scenario's window now, not at the next round
    await refresh().catch((error) => say(error.message));
  }
}

function renderStatus(status) {
  const t = status.traffic;
  document.getElementById("target-rate").textContent = `${t.target_rate.toFixed(1)}/s` + (t.spike ? " (spike)" : "");
  document.getElementById("achieved-rate").textContent = `${t.achieved_rate.toFixed(1)}/s`;
  document.getElementById("error-ratio").textContent =
    `${(100 * t.error_ratio).toFixed(1)} % (${t.errors_total} total)`;
  document.getElementById("latency").textContent = `${ms(t.p50_seconds)} / ${ms(t.p99_seconds)}`;
  document.getElementById("active-summary").textContent =
    status.active.map((a) => `${a.name} (${Math.round(a.seconds_left)} s left)`).join(", ") || "none";
}

function renderNotifications(items) {
  const list = document.getElementById("notifications");
  if (!items.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No notifications yet."));
    return;
  }
  list.replaceChildren(...items.map((n) => el("li", { class: n.status, "data-alertname": n.alertname, "data-received-at": n.received_at },
    el("strong", {}, `${n.status.toUpperCase()} ${n.alertname}`),
    ` [${[n.severity, n.labels.window && `window ${n.labels.window}`].filter(Boolean).join(", ")}] `,
    el("span", { class: "muted received" }, utcTime(n.received_at)),
    el("br"), n.summary, el("br"),
    el("a", { href: n.runbook_url, target: "_blank", rel: "noopener" }, "Runbook"), " | ",
    el("a", { href: n.dashboard_url, target: "_blank", rel: "noopener" }, "Dashboard"))));
}

// The inbox's clock: UTC and labelled, so a time read here matches the one on the inbox's page.
function utcTime(unixSeconds) {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// The SVGs are drawn by the server, every text and attribute escaped (app/common/graph_svg.py), so they are
// inserted as markup; everything else on the page is built from text nodes.
function renderGraphs(data) {
  document.getElementById("graphs").replaceChildren(...data.graphs.map((g) => {
    const box = el("div", { class: "graph-box", "data-name": g.name, title: g.query });
    box.innerHTML = g.svg;
    return box;
  }));
}

function renderStory(story) {
  const head = document.getElementById("story-head");
  const lines = document.getElementById("story-lines");
  const slow = document.getElementById("story-slow-burn");
  if (!story) {
    head.textContent = "No scenario started since this load generator started.";
    lines.replaceChildren();
    slow.hidden = true;
    return;
  }
  head.textContent = `${story.scenario} (${story.title}): started ${utcTime(story.started_at)}, ` + (story.active
    ? "active." : `stopped ${utcTime(story.stopped_at)} (${Math.round(story.stopped_at - story.started_at)} s later).`);
  head.dataset.scenario = story.scenario;
  lines.replaceChildren(...story.lines.map((line) => el("li",
    { class: `${line.role} ${line.status}`, "data-alertname": line.alertname, "data-role": line.role,
      "data-status": line.status }, line.text)));
  if (!story.lines.length) lines.append(el("li", { class: "muted" }, story.dead_mans_switch
    ? "No alert can arrive: watch the inbox's \"Alerting pipeline broken\" banner." : "No alert yet."));
  slow.hidden = !story.slow_burn;
  slow.textContent = story.slow_burn || "";
}

async function refresh() {
  const [catalog, status] = await Promise.all([api("GET", "/api/scenarios"), api("GET", "/api/status")]);
  scenarios = catalog.scenarios;
  renderScenarios();
  renderStatus(status);
  try {
    renderNotifications((await api("GET", "/api/notifications")).notifications);
  } catch (error) {
    document.getElementById("notifications").replaceChildren(el("li", { class: "muted" }, error.message));
  }
  try {
    renderStory((await api("GET", "/api/story")).story);
  } catch (error) {
    document.getElementById("story-lines").replaceChildren(el("li", { class: "muted" }, error.message));
  }
}

async function refreshGraphs() {
  try {
    renderGraphs(await api("GET", "/api/graphs"));
  } catch (error) {
    document.getElementById("graphs").replaceChildren(el("p", { class: "muted" }, error.message));
  }
}

async function graphsLoop() {
  // A tab in the background asks nothing; the graphs catch up when it is shown again.
  if (!document.hidden) await refreshGraphs();
  setTimeout(graphsLoop, GRAPHS_MS);
}

async function loop() {
  try { await refresh(); } catch (error) { say(error.message); }
  setTimeout(loop, POLL_MS);
}

loop();
graphsLoop();
