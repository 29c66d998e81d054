// The operator's plan as a Gantt chart: one row per resource, time across (the page's day, week or month),
// drawn with an ECharts custom series from the figures the page carries (epoch milliseconds). Closed hours
// and maintenance lie underneath, bookings coloured by status on top, an optimizer's proposal dashed.
// A booking opens its page on click.
"use strict";

const COLOURS = {
  requested: "#f0b429",
  approved: "#2e7d32",
  checked_in: "#1f5fa8",
  completed: "#7b8794",
  no_show: "#c62828",
  maintenance: "#e07b39",
  closed: "#e4e7eb",
  proposed: "#8e44ad",
};
const UNDER = new Set(["closed", "maintenance"]);

function escaped(text) {
  const node = document.createElement("span");
  node.textContent = text;
  return node.innerHTML;
}

// Times arrive shifted by the platform zone's offset and the chart runs in UTC, so that days and hours
// fall on the platform's midnights whatever the browser's own zone.
function clock(ms) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(ms));
  const get = (t) => (parts.find((p) => p.type === t) || {}).value;
  return `${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

function drawGantt(holder) {
  const data = JSON.parse(holder.dataset.chart);
  const shift = data.offset_minutes * 60000;
  const names = JSON.parse(holder.dataset.names);
  const rows = data.rows.length;
  holder.style.height = Math.max(160, rows * 26 + 70) + "px";
  const chart = echarts.init(holder);
  const toMs = (minutes) => data.start + minutes * 60000;
  const bars = data.bars.map(([r, s, e, k, l, b, g]) => ({ r, s: toMs(s), e: toMs(e), k, l, b, g: g === 1 }));
  const ordered = bars.sort((a, b) => (UNDER.has(b.k) ? 1 : 0) - (UNDER.has(a.k) ? 1 : 0));
  const points = ordered.map((b) => ({ value: [b.r, b.s + shift, b.e + shift], bar: b }));
  chart.setOption({
    animation: false,
    useUTC: true,
    grid: { left: 72, right: 16, top: 28, bottom: 24 },
    tooltip: {
      confine: true,
      formatter: (p) => {
        const b = p.data.bar;
        const what = names[b.k] || b.k;
        const label = b.l ? escaped(b.l) + "<br>" : "";
        return `${escaped(data.rows[b.r])} · ${escaped(what)}${b.g ? " ★" : ""}<br>${label}${clock(b.s + shift)} – ${clock(b.e + shift)}`;
      },
    },
    xAxis: {
      type: "time", min: data.start + shift, max: data.end + shift, position: "top",
      axisLabel: { hideOverlap: true, formatter: (v) => clock(v).replace(" 00:00", "") },
      splitLine: { show: true, lineStyle: { color: "#eef1f4" } },
    },
    yAxis: { type: "category", data: data.rows, inverse: true, axisTick: { show: false } },
    series: [{
      type: "custom",
      encode: { x: [1, 2], y: 0 },
      data: points,
      renderItem: (params, api) => {
        const b = points[params.dataIndex].bar;
        const from = api.coord([api.value(1), api.value(0)]);
        const to = api.coord([api.value(2), api.value(0)]);
        const band = api.size([0, 1])[1];
        const under = UNDER.has(b.k);
        const height = under ? band : band * 0.62;
        const rect = echarts.graphic.clipRectByRect(
          { x: from[0], y: from[1] - height / 2, width: Math.max(2, to[0] - from[0]), height },
          { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height },
        );
        if (!rect) return null;
        const style = b.k === "proposed"
          ? { fill: "rgba(142,68,173,.18)", stroke: COLOURS.proposed, lineWidth: 1.5, lineDash: [4, 2] }
          : { fill: COLOURS[b.k] || "#9aa5b1", stroke: b.g ? "#0b6b1d" : null, lineWidth: b.g ? 2 : 0 };
        return { type: "rect", shape: rect, style, z2: under ? 0 : 10 };
      },
    }],
  });
  chart.on("click", (p) => {
    const b = p.data && p.data.bar;
    if (b && b.b) window.location.assign("/bookings/" + b.b);
  });
  window.addEventListener("resize", () => chart.resize());
  holder.dataset.ready = String(points.length);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#gantt[data-chart]").forEach(drawGantt);
});
