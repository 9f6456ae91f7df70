// Draws the dashboard's charts and heat tables from the snapshot's tables (JSON).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  const colour = "#2f6f4f";
  const column = (table, name) => table.rows.map((r) => r[table.columns.indexOf(name)]);
  const named = (kind, keys) => keys.map((k) => (labels[kind] && labels[kind][k]) || k);

  function bar(id, x, y, title, type) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    new Chart(canvas, {
      type: type || "bar",
      data: { labels: x, datasets: [{ label: title, data: y, backgroundColor: colour, borderColor: colour }] },
      options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
    });
  }

  const activity = data.activity;
  bar("chart-activity", named("cell", column(activity, "cell")), column(activity, "customers"), labels.columns.customers);
  const segments = data.rfm_segments;
  bar("chart-rfm_segments", named("segment", column(segments, "segment")), column(segments, "customers"), labels.columns.customers);
  const relationship = data.relationship;
  bar("chart-relationship", named("type", column(relationship, "type")), column(relationship, "customers"), labels.columns.customers);
  const nps = data.nps_trend;
  bar("chart-nps_trend", column(nps, "month"), column(nps, "nps"), labels.columns.nps, "line");
  const clv = data.clv_histogram;
  bar("chart-clv_histogram", clv.rows.map((r) => r[1] === null ? "≥ " + r[0] : r[0] + "–" + r[1]), column(clv, "customers"), labels.columns.customers);
  const second = data.second_purchase;
  bar("chart-second_purchase", second.rows.map((r) => r[0] + "–" + r[1]), column(second, "customers"), labels.columns.customers);

  // RFM heat map: R from 5 (top) to 1, F from 1 to 5.
  const heat = document.getElementById("rfm-heat-body");
  const counts = {};
  let most = 1;
  data.rfm_matrix.rows.forEach(([r, f, n]) => { counts[r + ":" + f] = n; most = Math.max(most, n); });
  for (let r = 5; r >= 1; r--) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = r;
    tr.appendChild(th);
    for (let f = 1; f <= 5; f++) {
      const td = document.createElement("td");
      const n = counts[r + ":" + f] || 0;
      td.textContent = n.toLocaleString();
      td.style.background = "rgba(47,111,79," + (0.08 + 0.8 * n / most).toFixed(2) + ")";
      if (n / most > 0.5) td.style.color = "#fff";
      tr.appendChild(td);
    }
    heat.appendChild(tr);
  }

  // Cohort table: one row per cohort, retention by months since the first purchase.
  const cohorts = data.cohorts;
  const table = document.getElementById("cohort-table");
  const byCohort = {};
  let maxAge = 0;
  cohorts.rows.forEach(([cohort, size, age, retention]) => {
    byCohort[cohort] = byCohort[cohort] || { size: size, cells: {} };
    byCohort[cohort].cells[age] = retention;
    maxAge = Math.max(maxAge, age);
  });
  const head = document.createElement("tr");
  [labels.columns.cohort, labels.columns.size].concat([...Array(maxAge + 1).keys()].map(String)).forEach((t) => {
    const th = document.createElement("th"); th.textContent = t; head.appendChild(th);
  });
  table.appendChild(head);
  Object.keys(byCohort).sort().forEach((cohort) => {
    const tr = document.createElement("tr");
    [cohort.slice(0, 7), byCohort[cohort].size].forEach((t) => {
      const th = document.createElement("th"); th.textContent = t; tr.appendChild(th);
    });
    for (let age = 0; age <= maxAge; age++) {
      const td = document.createElement("td");
      const value = byCohort[cohort].cells[age];
      if (value !== undefined) {
        td.textContent = value.toFixed(1) + "%";
        td.style.background = "rgba(47,111,79," + (0.08 + 0.8 * value / 100).toFixed(2) + ")";
        if (value > 50) td.style.color = "#fff";
      }
      tr.appendChild(td);
    }
    table.appendChild(tr);
  });
})();
