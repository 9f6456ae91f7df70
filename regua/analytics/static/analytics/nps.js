// Draws the NPS report's monthly line from the JSON the page carries; the table beside
// it holds the same figures, so the page reads the same without JavaScript.
(function () {
  "use strict";
  const canvas = document.getElementById("chart-nps-months");
  const source = document.getElementById("nps-trend");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const trend = JSON.parse(source.textContent);
  const colour = "#2f6f4f";
  new Chart(canvas, {
    type: "line",
    data: { labels: trend.labels, datasets: [{ label: trend.title, data: trend.nps, borderColor: colour, backgroundColor: colour }] },
    options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { min: -100, max: 100 } } },
  });
})();
