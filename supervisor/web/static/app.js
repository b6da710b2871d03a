// teamctl dashboard: draws the server's JSON snapshots. Everything a runtime wrote (limit lines,
// output tails) is untrusted: it only ever reaches the page through textContent, never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const KINDS = ["running", "rate_limited", "paused", "stalled", "failed", "backing_off", "starting"];
let token = null;
let skew = 0;  // server clock minus ours, seconds
let snap = null;
const open = new Set();

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function serverNow() { return Date.now() / 1000 + skew; }

function clock(ts) {
  if (ts === null || ts === undefined) return "-";
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
}

function span(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const two = (n) => String(n).padStart(2, "0");
  if (d) return `${d}d ${two(h)}h`;
  if (h) return `${h}:${two(m)}:${two(s)}`;
  return `${m}:${two(s)}`;
}

function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "K", "M", "G"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)}${units[i]}` : `${n}B`;
}

function usage(windows) {
  if (!windows || !windows.length) return "-";
  return windows.map((w) => `${w.window} ${w.used_percent === null ? "near" : Math.round(w.used_percent) + "%"}`).join(", ");
}

function timeline(agent, now) {
  const width = 240, height = 14, start = now - 86400;
  const box = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "timeline"});
  box.appendChild(svg("rect", {x: 0, y: 0, width, height, fill: "#eceef1"}));
  for (const seg of agent.timeline) {
    const w = Math.max(2, (seg.end - seg.start) / 86400 * width);  // a minute still shows
    const x = Math.min(width - w, Math.max(0, (seg.start - start) / 86400 * width));
    const kind = KINDS.includes(seg.kind) ? seg.kind : "running";
    const r = svg("rect", {x: x.toFixed(2), y: 0, width: w.toFixed(2), height, class: `k-${kind}`});
    const tip = svg("title", {});
    tip.textContent = `${seg.kind} ${clock(seg.start)}–${clock(seg.end)}${seg.detail ? " (" + seg.detail + ")" : ""}`;
    r.appendChild(tip);
    box.appendChild(r);
  }
  return box;
}

function bars(values, label) {
  const width = 360, height = 90, n = values.length, top = Math.max(...values, 0.01);
  const box = svg("svg", {width, height: height + 14, viewBox: `0 0 ${width} ${height + 14}`});
  values.forEach((v, i) => {
    const h = v / top * height, w = width / n;
    const r = svg("rect", {x: (i * w + 1).toFixed(2), y: (height - h).toFixed(2), width: Math.max(1, w - 2).toFixed(2),
                           height: h.toFixed(2), class: "bar"});
    const tip = svg("title", {});
    tip.textContent = `${label(i)}: $${v.toFixed(4)}`;
    r.appendChild(tip);
    box.appendChild(r);
  });
  const t = svg("text", {x: 2, y: height + 12, "font-size": 10});
  t.textContent = `max $${top.toFixed(2)}`;
  box.appendChild(t);
  return box;
}

function act(action, agent) {
  const notice = document.getElementById("notice");
  fetch("/api/action", {method: "POST", headers: {"Content-Type": "application/json", "X-Teamctl-Token": token || ""},
                        body: JSON.stringify({action, agent})})
    .then((r) => r.json())
    .then((j) => { notice.textContent = j.message || j.error || ""; })
    .catch((e) => { notice.textContent = String(e); });
}

function row(agent, now) {
  const tr = el("tr");
  tr.dataset.agent = agent.id;
  tr.appendChild(el("td", agent.id, "agent-id"));
  const st = el("td");
  st.appendChild(el("span", agent.text, `state s-${agent.state}`));
  st.firstChild.dataset.state = agent.state;
  tr.appendChild(st);
  tr.appendChild(el("td", agent.host));
  const cd = el("td", "", "countdown");
  if (agent.until) cd.dataset.until = String(agent.until);
  tr.appendChild(cd);
  // last activity: the model's own last turn where its session file tells, else the last output
  tr.appendChild(el("td", agent.last_turn_at ? `turn ${span(now - agent.last_turn_at)} ago`
    : agent.last_output_at ? `output ${span(now - agent.last_output_at)} ago` : "-"));
  tr.appendChild(el("td", agent.restarts));
  tr.appendChild(el("td", agent.cpu_percent === null ? "-" : `${agent.cpu_percent}%`));
  tr.appendChild(el("td", bytes(agent.rss_bytes)));
  tr.appendChild(el("td", `$${agent.cost_today_usd.toFixed(2)}`));
  tr.appendChild(el("td", usage(agent.usage_windows)));
  const tl = el("td");
  tl.appendChild(timeline(agent, now));
  tr.appendChild(tl);
  const acts = el("td", null, "act-col");
  if (snap.actions) {
    for (const a of ["wake", "restart"]) {
      const b = el("button", a, `act-${a}`);
      b.type = "button";
      b.addEventListener("click", () => act(a, agent.id));
      acts.appendChild(b);
    }
  }
  tr.appendChild(acts);
  return tr;
}

function details(agent) {
  const d = el("details");
  d.dataset.agent = agent.id;
  d.open = open.has(agent.id);
  d.addEventListener("toggle", () => { if (d.open) open.add(agent.id); else open.delete(agent.id); });
  d.appendChild(el("summary", `${agent.id}: ${agent.hits.length} recent hits, last output`));
  d.appendChild(el("h4", "recent rate-limit hits"));
  const hits = el("ul", null, "hits");
  for (const h of agent.hits) {
    const li = el("li", `${clock(h.hit_at)} resets ${clock(h.resets_at)}${h.handled_at ? " · handled" : ""}: `);
    li.appendChild(el("code", h.raw, "hit-raw"));
    hits.appendChild(li);
  }
  if (!agent.hits.length) hits.appendChild(el("li", "none in the last 7 days"));
  d.appendChild(hits);
  d.appendChild(el("h4", "last output"));
  d.appendChild(el("pre", agent.log_tail.join("\n"), "log-tail"));
  return d;
}

function tick() {
  const now = serverNow();
  for (const cd of document.querySelectorAll(".countdown")) {
    const until = Number(cd.dataset.until || 0);
    cd.textContent = until ? (until > now ? span(until - now) : "due") : "-";
  }
}

function draw(data) {
  snap = data;
  skew = data.now - Date.now() / 1000;
  document.getElementById("team").textContent = data.team;
  document.getElementById("host").textContent = data.host;
  document.getElementById("spend-today").textContent = `today $${data.spend.today_usd.toFixed(2)}`;
  for (const c of document.querySelectorAll(".act-col")) c.hidden = !data.actions;
  const rows = document.getElementById("rows");
  rows.replaceChildren(...data.agents.map((a) => row(a, data.now)));
  const hourly = document.getElementById("plot-hour");
  hourly.replaceChildren(bars(data.spend.per_hour, (i) => clock(data.spend.hour_start + i * 3600)));
  const daily = document.getElementById("plot-day");
  daily.replaceChildren(bars(data.spend.per_day, (i) => new Date((data.spend.day_start + i * 86400) * 1000).toDateString()));
  document.getElementById("details").replaceChildren(...data.agents.map(details));
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  tick();
}

function legend() {
  const p = document.getElementById("legend");
  for (const k of KINDS) {
    const s = el("span");
    const box = svg("svg", {width: 10, height: 10});
    box.appendChild(svg("rect", {width: 10, height: 10, class: `k-${k}`}));
    s.appendChild(box);
    s.appendChild(document.createTextNode(" " + k.replace("_", " ")));
    p.appendChild(s);
  }
}

function connect() {
  const link = document.getElementById("link");
  const q = token ? `?token=${encodeURIComponent(token)}` : "";
  const es = new EventSource(`/events${q}`);
  es.onopen = () => { link.textContent = "live"; link.className = "link-ok"; };
  es.onmessage = (m) => { draw(JSON.parse(m.data)); };
  es.onerror = () => { link.textContent = "reconnecting"; link.className = "link-bad"; };
}

function start() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("teamctl-token", token);
    history.replaceState(null, "", location.pathname);
  } else {
    token = sessionStorage.getItem("teamctl-token");
  }
  legend();
  connect();
  setInterval(tick, 1000);
}

document.addEventListener("DOMContentLoaded", start);
