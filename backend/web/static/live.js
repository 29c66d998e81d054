// Live instruments: the twins the logged-in user may see, kept current by the twin stream (SSE).
// Plain browser JavaScript, no build step. The token lives in sessionStorage (this tab only).
"use strict";

const API = "/api/v1";
const KEY = "pilotshare.token";
const cards = new Map(); // resource id -> card element

function $(id) {
  return document.getElementById(id);
}

function token() {
  return sessionStorage.getItem(KEY);
}

async function api(path) {
  const response = await fetch(API + path, { headers: { Authorization: "Bearer " + token() } });
  if (response.status === 401) {
    logout("Your session has ended; log in again.");
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
  $("login").hidden = true;
  $("board").hidden = false;
  const me = await (await api("/me")).json();
  $("who").textContent = me.email + " (" + me.role + ")";
  const resources = await (await api("/resources?limit=500&kind=instrument")).json();
  for (const r of resources.data) {
    const response = await api("/resources/" + r.id + "/twin");
    if (response.ok) put(await response.json(), r.name_en || r.name);
  }
  if (!cards.size) $("twins").append(el("p", {}, "No instrument you may watch right now."));
  await loadAlarms();
  stream = new EventSource(API + "/stream/twins?access_token=" + encodeURIComponent(token()));
  stream.addEventListener("twin", (event) => put(JSON.parse(event.data)));
  stream.onerror = () => ($("live").textContent = "reconnecting…");
  stream.onopen = () => ($("live").textContent = "live");
  setInterval(loadAlarms, 15000);
  setInterval(() => document.querySelectorAll("[data-ts]").forEach((p) => (p.textContent = since(p.dataset.ts))), 5000);
}

function logout(message) {
  sessionStorage.removeItem(KEY);
  if (stream) stream.close();
  $("board").hidden = true;
  $("login").hidden = false;
  $("error").textContent = message || "";
}

async function login(event) {
  event.preventDefault();
  const body = new URLSearchParams({ username: $("email").value, password: $("password").value });
  const response = await fetch(API + "/auth/token", { method: "POST", body });
  if (!response.ok) {
    $("error").textContent = (await response.json()).detail || "login failed";
    return;
  }
  sessionStorage.setItem(KEY, (await response.json()).access_token);
  start();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  if (token()) start();
});
