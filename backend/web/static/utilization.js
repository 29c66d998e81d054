// Utilization heatmap: resources down, days across, each cell the share of the day's opening (or booked)
// hours the instrument measured itself in use; the figures behind it on hover. Data from the page.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("heatmap");
  if (!holder) return;
  const data = JSON.parse(holder.dataset.chart);
  const labels = JSON.parse(holder.dataset.labels);
  holder.style.height = Math.max(180, data.rows.length * 26 + 90) + "px";
  const chart = echarts.init(holder);
  const hours = (h) => (Math.round(h * 10) / 10).toString() + " h";
  chart.setOption({
    animation: false,
    grid: { left: 72, right: 16, top: 8, bottom: 84 },
    tooltip: {
      confine: true,
      formatter: (p) => {
        const [x, y, ratio, used, open, booked] = p.data;
        const share = ratio === null ? "–" : Math.round(ratio * 100) + "%";
        return `${data.rows[y]} · ${data.days[x]}<br>${labels.measured}: ${hours(used)}<br>` +
          `${labels.open}: ${hours(open)}<br>${labels.booked}: ${hours(booked)}<br>${labels.measured} / ${labels.ratio}: ${share}`;
      },
    },
    xAxis: { type: "category", data: data.days, splitArea: { show: true }, axisLabel: { hideOverlap: true } },
    yAxis: { type: "category", data: data.rows, inverse: true },
    visualMap: {
      dimension: 2, min: 0, max: 1, calculable: true, orient: "horizontal", left: "center", bottom: 4, itemHeight: 160,
      formatter: (v) => Math.round(v * 100) + "%", inRange: { color: ["#f3f6f9", "#9ecae1", "#1f5fa8", "#0b3a75"] },
    },
    series: [{ type: "heatmap", data: data.cells.filter((c) => c[2] !== null), encode: { x: 0, y: 1, value: 2 }, emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } } }],
  });
  window.addEventListener("resize", () => chart.resize());
  holder.dataset.ready = String(data.cells.length);
});
