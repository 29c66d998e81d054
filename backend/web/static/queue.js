// The approval queue's SLA clocks keep counting while the page is open (the server wrote them once);
// rows swapped in by htmx are picked up at the next tick.
"use strict";

function tick() {
  const now = Date.now();
  document.querySelectorAll(".sla[data-due]").forEach((clock) => {
    const minutes = Math.trunc((Date.parse(clock.dataset.due) - now) / 60000);
    const left = Math.abs(minutes);
    const words = minutes < 0 ? clock.dataset.over : clock.dataset.left;
    clock.textContent = words.replace("{h}", String(Math.trunc(left / 60))).replace("{m}", String(left % 60));
    clock.classList.toggle("overdue", minutes < 0);
    clock.classList.toggle("soon", minutes >= 0 && minutes < 120);
  });
}

document.addEventListener("DOMContentLoaded", () => setInterval(tick, 30000));
