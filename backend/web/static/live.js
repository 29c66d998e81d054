// Live instruments: the twins the logged-in user may see, kept current by the twin stream (SSE).
// Plain browser JavaScript, no build step. It calls the API with the page's session cookie (same origin);
// when the session ends it sends the visitor to log in and back.
"use strict";

const API = "/api/v1";
const cards = new Map(); // resource id -> card element

function $(id) {
  return document.getElementById(id);
}

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
  return typeof value === "number" ? (Number.isInteger(value) ? value : value.toFixed(2)) : value;
}

function since(ts) {
  if (!ts) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  return seconds < 90 ? seconds + " s ago" : Math.round(seconds / 60) + " min ago";
}

function render(twin, name) {
  const reported = twin.reported || {};
  const state = reported.state ? reported.state.value : "unknown";
  const card = el("section", { class: "card " + twin.connection.state, "data-state": state });
  card.append(
    el("h3", {}, twin.resource_code, " ", el("span", { class: "name" }, name || "")),
    el("p", { class: "status" }, el("b", {}, state), " · ", twin.connection.state, " · v", twin.version),
  );
  const table = el("table", {});
  Object.keys(reported)
    .filter((k) => k !== "state")
    .sort()
    .slice(0, 8)
    .forEach((k) => table.append(el("tr", {}, el("th", {}, k), el("td", {}, shown(reported[k].value)))));
  card.append(table);
  if (Object.keys(twin.delta || {}).length) {
    card.append(el("p", { class: "delta" }, "pending: " + JSON.stringify(twin.delta)));
  }
  card.append(el("p", { class: "ts", "data-ts": twin.updated_at || "" }, since(twin.updated_at)));
  return card;
}

function put(twin, name) {
  const old = cards.get(twin.resource_id);
  const card = render(twin, name || (old && old.dataset.name) || "");
  card.dataset.name = name || (old && old.dataset.name) || "";
  if (old) old.replaceWith(card);
  else $("twins").append(card);
  cards.set(twin.resource_id, card);
}

async function loadAlarms() {
  const response = await api("/alarms?limit=10");
  if (!response.ok) return;
  const list = $("alarms");
  list.replaceChildren();
  for (const a of (await response.json()).data) {
    list.append(el("li", { class: a.severity || "" }, a.ts.replace("T", " ").slice(0, 19), " ", a.resource_code || a.resource_id, " ", a.code, ": ", a.message || ""));
  }
}

let stream = null;

async function start() {
  const resources = await (await api("/resources?limit=500&kind=instrument")).json();
  for (const r of resources.data) {
    const response = await api("/resources/" + r.id + "/twin");
    if (response.ok) put(await response.json(), document.documentElement.lang === "en" ? r.name_en || r.name : r.name);
  }
  if (!cards.size) $("twins").append(el("p", {}, $("twins").dataset.empty));
  await loadAlarms();
  stream = new EventSource(API + "/stream/twins");
  stream.addEventListener("twin", (event) => put(JSON.parse(event.data)));
  stream.onerror = () => ($("live").textContent = $("live").dataset.reconnecting);
  stream.onopen = () => ($("live").textContent = $("live").dataset.live);
  setInterval(loadAlarms, 15000);
  setInterval(() => document.querySelectorAll("[data-ts]").forEach((p) => (p.textContent = since(p.dataset.ts))), 5000);
}

document.addEventListener("DOMContentLoaded", start);
