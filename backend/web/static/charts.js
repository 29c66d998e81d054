// Run-data charts: for each booked instrument, one small ECharts line chart per numeric signal (their
// scales differ too much to share an axis), from the figures the page carries. Times in the platform's zone.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const holder of document.querySelectorAll(".charts[data-series]")) {
    const data = JSON.parse(holder.dataset.series);
    for (const [name, values] of Object.entries(data.signals)) {
      if (!values.some((v) => v !== null)) continue;
      const box = document.createElement("div");
      box.className = "chart";
      box.dataset.testid = "chart";
      holder.append(box);
      const chart = echarts.init(box);
      chart.setOption({
        animation: false,
        title: { text: name, left: 0, top: 0, textStyle: { fontSize: 12, fontWeight: "normal" } },
        tooltip: { trigger: "axis" },
        grid: { left: 48, right: 12, top: 28, bottom: 24 },
        xAxis: { type: "time", axisLabel: { hideOverlap: true } },
        yAxis: { type: "value", scale: true },
        series: [{ name, type: "line", showSymbol: false, data: data.times.map((t, i) => [t, values[i]]) }],
      });
      window.addEventListener("resize", () => chart.resize());
    }
  }
});
