// Live instruments: a card per instrument the logged-in user may see, kept current by the twin stream
// (SSE): its key signals (chosen per kind of instrument, with units and names in the page's language,
// from data-catalog), a sparkline of the first one over the last hour, online/offline since when,
// interlock, pending setpoints and its open alarms (severity, since when, active or acknowledged); a filter
// by state. An operator of the instrument's platform (or an administrator) acknowledges an active alarm
// with a button: the page posts to its own route (/live/alarms/{id}/ack) with the CSRF token, like every
// form, and shows the alarm acknowledged from the answer.
// Plain browser JavaScript, no build step; it calls the API with the page's session cookie (same origin)
// and sends the visitor to log in and back when the session ends.
"use strict";

const API = "/api/v1";
const cards = new Map(); // resource id -> {resource, twin, card, spark: [[ms, value]]}
let alarms = []; // open alarms of any age and every alarm of the last 24 hours, newest first
let filter = "all";

const $ = (id) => document.getElementById(id);
const holder = () => $("twins");
const text = (key) => holder().dataset[key] || "";

function backToLogin() {
  window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
}

async function api(path) {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (response.status === 401) {
    backToLogin();
    throw new Error("unauthorized");
  }
  return response;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
  return node;
}

function shown(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 2 : 1);
  if (typeof value === "boolean") return value ? "✓" : "–";
  return String(value);
}

function ago(ts) {
  if (!ts) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  const zh = text("lang") === "zh";
  if (seconds < 90) return zh ? `${seconds} 秒前` : `${seconds} s ago`;
  if (seconds < 5400) return zh ? `${Math.round(seconds / 60)} 分钟前` : `${Math.round(seconds / 60)} min ago`;
  return zh ? `${Math.round(seconds / 3600)} 小时前` : `${Math.round(seconds / 3600)} h ago`;
}

function lasted(ts) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  const zh = text("lang") === "zh";
  if (seconds < 90) return zh ? `${seconds} 秒` : `${seconds} s`;
  if (seconds < 5400) return zh ? `${Math.round(seconds / 60)} 分钟` : `${Math.round(seconds / 60)} min`;
  return zh ? `${Math.round(seconds / 3600)} 小时` : `${Math.round(seconds / 3600)} h`;
}

function clockOf(ts) {
  const options = { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  return new Intl.DateTimeFormat(text("lang") === "zh" ? "zh-CN" : "en-GB", options).format(new Date(ts));
}

function catalog() {
  return JSON.parse(text("catalog"));
}

function keySignals(resource, reported) {
  const known = catalog().signals[resource.device_type || ""];
  if (known) return known.filter(([name]) => name in reported);
  return Object.keys(reported).filter((k) => k !== "state" && k !== "locked" && typeof reported[k].value === "number").sort().slice(0, 6).map((k) => [k, k, ""]);
}

function word(w) {
  return catalog().words[w] || w;
}

function sparkline(points) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 200 36");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "spark");
  const values = points.map((p) => p[1]).filter((v) => typeof v === "number");
  if (values.length < 2) return svg;
  const t0 = points[0][0];
  const span = Math.max(1, points[points.length - 1][0] - t0);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const range = hi - lo || 1;
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute(
    "points",
    points.filter((p) => typeof p[1] === "number").map((p) => `${((p[0] - t0) / span) * 200},${34 - ((p[1] - lo) / range) * 32}`).join(" "),
  );
  svg.append(line);
  return svg;
}

function stateOf(entry) {
  const reported = (entry.twin && entry.twin.reported) || {};
  return reported.state ? String(reported.state.value) : "unknown";
}

function openAlarms(id) {
  return alarms.filter((a) => a.resource_id === id && a.state !== "cleared");
}

function alarmMark(id) {
  const open = openAlarms(id);
  if (open.some((a) => a.state === "active")) return "active";
  return open.length ? "acknowledged" : "no";
}

function mayAcknowledge(alarm) {
  const who = text("acknowledges");
  const entry = cards.get(alarm.resource_id);
  return alarm.state === "active" && (who === "*" || (who !== "" && entry && String(entry.resource.platform_id) === who));
}

// A threshold rule's alarm says so; for those who may read the rules, the tag leads to its rule.
function ruleTag(a) {
  const platform = cards.get(a.resource_id)?.resource.platform_code;
  if (!text("rules") || !a.rule_id || !platform) return el("span", { class: "tag" }, catalog().t_rule);
  const href = `${text("rules")}?platform=${encodeURIComponent(platform)}#rule-${a.rule_id}`;
  return el("a", { class: "tag", href, "data-testid": "alarm-rule" }, catalog().t_rule);
}

// One alarm: severity, code and message, since when, its state, and the button while it is active.
function alarmItem(a, withCode) {
  const item = el("li", { class: `alarm ${a.severity || ""}`, "data-alarm-id": a.id, "data-state": a.state });
  const code = withCode ? (cards.get(a.resource_id)?.resource.code || a.resource_id) + " " : "";
  item.append(
    el("span", { class: `sev sev-${a.severity}` }, word(a.severity)), " ",
    el("b", {}, code + a.code), a.message ? ` ${a.message}` : "",
    el("span", { class: "small muted" }, ` · ${text("tRaised")} ${clockOf(a.ts)} (${lasted(a.ts)})`), " ",
    el("span", { class: `status alarm-${a.state}`, "data-testid": "alarm-state" }, catalog().alarm_states[a.state] || a.state),
  );
  if (a.source === "rule") item.append(" ", ruleTag(a));
  if (a.booking_id) {
    item.append(" ", el("a", { href: `/bookings/${a.booking_id}`, class: "small" }, `${catalog().t_booking} #${a.booking_id}`));
  }
  if (mayAcknowledge(a)) {
    item.append(" ", el("button", { type: "button", class: "ack", "data-ack": a.id }, text("tAck")));
  }
  return item;
}

function render(entry) {
  const { resource, twin } = entry;
  const reported = twin.reported || {};
  const state = stateOf(entry);
  const connection = twin.connection.state;
  const open = openAlarms(resource.id);
  const card = el("section", {
    class: `card twin ${connection}`, "data-state": state, "data-connection": connection,
    "data-code": resource.code, "data-alarm": alarmMark(resource.id),
  });
  const name = text("lang") === "en" ? resource.name_en || resource.name : resource.name;
  card.append(
    el("h3", {}, resource.code, " ", el("span", { class: "name" }, name)),
    el("p", { class: "status-line" },
      el("span", { class: `state state-${state}`, "data-testid": "state" }, word(state)), " ",
      el("span", { class: `conn conn-${connection}` }, word(connection)),
      twin.connection.since ? el("span", { class: "ts", "data-since": twin.connection.since }, ` · ${text("tSince")} ${lasted(twin.connection.since)}`) : ""),
  );
  const signals = keySignals(resource, reported);
  const table = el("table", { class: "signals" });
  signals.forEach(([key, label, unit]) => {
    table.append(el("tr", { "data-signal": key }, el("th", {}, label), el("td", {}, shown(reported[key].value), unit ? el("span", { class: "unit" }, " " + unit) : "")));
  });
  card.append(table);
  if (signals.length) {
    const [key, label] = signals[0];
    const box = el("div", { class: "spark-box", title: `${label} · ${text("tLastHour")}` });
    box.append(sparkline(entry.spark || []), el("span", { class: "small muted" }, `${label} · ${text("tLastHour")}`));
    card.append(box);
    entry.sparkKey = key;
  }
  if ("locked" in reported) {
    const locked = reported.locked.value === true;
    card.append(el("p", { class: locked ? "interlock locked" : "interlock" }, locked ? text("tLocked") : text("tUnlocked")));
  }
  const delta = twin.delta || {};
  if (Object.keys(delta).length) {
    const units = Object.fromEntries(catalog().signals[resource.device_type || ""]?.map(([n, , u]) => [n, u]) || []);
    const list = Object.entries(delta).map(([k, v]) => `${k} → ${shown(v)}${units[k] ? " " + units[k] : ""}`).join(", ");
    card.append(el("p", { class: "delta", "data-testid": "pending" }, `${text("tPending")}: ${list}`));
  }
  const commands = recentCommands(twin.commands || []);
  if (commands.length) {
    const list = el("ul", { class: "card-commands small", "data-testid": "card-commands" });
    commands.forEach((c) => list.append(commandItem(c)));
    card.append(list);
  }
  if (open.length) {
    const list = el("ul", { class: "card-alarms", "data-testid": "card-alarms" });
    open.slice(0, 4).forEach((a) => list.append(alarmItem(a, false)));
    card.append(el("p", { class: "small" }, `${text("tAlarms")} (${open.length})`), list);
  }
  card.append(el("p", { class: "ts", "data-ts": twin.updated_at || "" }, ago(twin.updated_at)));
  return card;
}

// Commands to the instrument worth a glance: those still on their way, and what was decided lately.
const COMMAND_RECENT_MS = 15 * 60 * 1000;

function recentCommands(commands) {
  const now = Date.now();
  return commands
    .filter((c) => c.state === "pending" || c.state === "sent" || now - Date.parse(c.acked_at || c.created_at) < COMMAND_RECENT_MS)
    .slice(0, 3);
}

function commandItem(c) {
  const what = c.action === "setpoint"
    ? Object.entries(c.args || {}).map(([k, v]) => `${k} → ${shown(v)}`).join(", ")
    : text(c.action === "lock" ? "tCmdLock" : "tCmdUnlock");
  const state = text("tCmd" + c.state.charAt(0).toUpperCase() + c.state.slice(1)) || c.state;
  const tries = c.state === "sent" && c.attempts > 1 ? ` (${c.attempts}×)` : "";
  const why = c.error && (c.state === "refused" || c.state === "expired") ? `: ${c.error}` : "";
  return el("li", { "data-state": c.state, "data-testid": "command" }, `${what} · `, el("span", { class: `cmd cmd-${c.state}` }, state + tries), why);
}

function visible(entry) {
  const state = stateOf(entry);
  const connection = entry.twin.connection.state;
  if (filter === "all") return true;
  if (filter === "offline") return connection !== "online";
  if (filter === "fault") return state === "fault" || openAlarms(entry.resource.id).length > 0;
  if (filter === "running") return ["running", "setup", "cleaning"].includes(state);
  return state === filter;
}

function place(entry) {
  const card = render(entry);
  card.hidden = !visible(entry);
  if (entry.card) entry.card.replaceWith(card);
  else holder().append(card);
  entry.card = card;
}

function refilter() {
  let shownCount = 0;
  for (const entry of cards.values()) {
    entry.card.hidden = !visible(entry);
    if (!entry.card.hidden) shownCount += 1;
  }
  let none = $("no-match");
  if (!shownCount && cards.size) {
    if (!none) holder().after((none = el("p", { id: "no-match", class: "muted" }, text("none"))));
  } else if (none) none.remove();
}

async function loadSpark(entry) {
  if (!entry.sparkKey) return;
  const to = new Date();
  const from = new Date(to.getTime() - 3600 * 1000);
  const query = `?field=${encodeURIComponent(entry.sparkKey)}&from=${from.toISOString()}&to=${to.toISOString()}&every=1m`;
  const response = await api("/resources/" + entry.resource.id + "/telemetry" + query);
  if (!response.ok) return;
  entry.spark = (await response.json()).points.map((p) => [Date.parse(p.time), p.value]);
  place(entry);
}

function onTwin(twin) {
  const entry = cards.get(twin.resource_id);
  if (!entry) return;
  entry.twin = twin;
  const value = entry.sparkKey && twin.reported[entry.sparkKey];
  if (value && typeof value.value === "number") {
    entry.spark = (entry.spark || []).concat([[Date.parse(value.ts), value.value]]).filter((p) => p[0] > Date.now() - 3600 * 1000);
  }
  place(entry);
  refilter();
}

function showAlarms() {
  const list = $("alarms");
  list.replaceChildren(...alarms.slice(0, 30).map((a) => alarmItem(a, true)));
  for (const entry of cards.values()) place(entry);
  refilter();
}

async function loadAlarms() {
  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const answers = await Promise.all([
    api("/alarms?limit=200&state=active"), api("/alarms?limit=200&state=acknowledged"), api("/alarms?limit=100&from=" + since),
  ]);
  if (answers.some((r) => !r.ok)) return;
  const byId = new Map();
  for (const answer of answers) for (const a of (await answer.json()).data) byId.set(a.id, a);
  alarms = [...byId.values()].sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts));
  showAlarms();
}

async function acknowledge(button) {
  const message = $("alarm-message");
  button.disabled = true;
  button.textContent = text("tAcking");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(`/live/alarms/${button.dataset.ack}/ack`, {
    method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": token, Accept: "application/json" },
  });
  const json = (response.headers.get("content-type") || "").includes("json");
  if (response.status === 401 || !json) return backToLogin(); // the session ended: sent to log in
  const answer = await response.json();
  if (response.ok) {
    alarms = alarms.map((a) => (a.id === answer.id ? answer : a));
    message.hidden = true;
    showAlarms();
  } else {
    message.textContent = answer.detail;
    message.hidden = false;
    await loadAlarms();
  }
}

async function start() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-ack]");
    if (button && !button.disabled) acknowledge(button);
  });
  document.querySelectorAll("[data-filter]").forEach((button) => button.addEventListener("click", () => {
    filter = button.dataset.filter;
    document.querySelectorAll("[data-filter]").forEach((b) => {
      b.classList.toggle("on", b === button);
      b.setAttribute("aria-pressed", String(b === button));
    });
    refilter();
  }));
  const resources = await (await api("/resources?limit=500&kind=instrument")).json();
  for (const resource of resources.data) {
    const response = await api("/resources/" + resource.id + "/twin");
    if (!response.ok) continue;
    const entry = { resource, twin: await response.json(), card: null, spark: [] };
    cards.set(resource.id, entry);
    place(entry);
  }
  if (!cards.size) holder().append(el("p", {}, text("empty")));
  holder().dataset.ready = String(cards.size);
  await loadAlarms();
  holder().dataset.alarmsReady = "yes";
  await Promise.all([...cards.values()].map(loadSpark));
  const stream = new EventSource(API + "/stream/twins");
  stream.addEventListener("twin", (event) => onTwin(JSON.parse(event.data)));
  stream.onerror = () => ($("live").textContent = $("live").dataset.reconnecting);
  stream.onopen = () => ($("live").textContent = $("live").dataset.live);
  setInterval(loadAlarms, 15000);
  setInterval(() => {
    document.querySelectorAll("[data-ts]").forEach((p) => (p.textContent = ago(p.dataset.ts)));
    document.querySelectorAll("[data-since]").forEach((p) => (p.textContent = ` · ${text("tSince")} ${lasted(p.dataset.since)}`));
  }, 5000);
}

document.addEventListener("DOMContentLoaded", start);
