// On a phone, a table of more than four columns shows each row as a card:
// one line per column, "p50 (ms): 3.36", instead of eight columns cut off at
// the screen's edge. This labels each cell with its column's header (an
// empty cell is left out); layout.css lays the cards out below 30em. Without
// JavaScript, the table scrolls sideways.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("article table.docutils")) {
    const headers = [...table.querySelectorAll("thead th")].map((th) =>
      th.textContent.trim(),
    );
    if (headers.length <= 4) continue;
    table.classList.add("cards-on-phones");
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, column) => {
        cell.dataset.label = headers[column] ?? "";
        if (cell.textContent.trim() === "") cell.classList.add("empty");
      });
    }
  }
});
