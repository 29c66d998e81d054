// The auditor's desk: the report's print button (the page has print styles for A4).
"use strict";

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
