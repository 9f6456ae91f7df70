// The week view: drag a task card to another day to move it there.
// The drop posts the new date to the task's reschedule URL, then reloads the week.
(function () {
  "use strict";
  const root = document.getElementById("week");
  if (!root) return;
  const urlFor = (id) => root.dataset.rescheduleUrl.replace("/0/", "/" + id + "/");
  const csrf = () => JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];

  root.addEventListener("dragstart", (event) => {
    const card = event.target.closest("[data-task]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.dataset.task);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  root.addEventListener("dragend", (event) => {
    const card = event.target.closest("[data-task]");
    if (card) card.classList.remove("dragging");
  });
  root.addEventListener("dragover", (event) => {
    const day = event.target.closest("[data-day]");
    if (!day) return;
    event.preventDefault();
    day.classList.add("drop-target");
  });
  root.addEventListener("dragleave", (event) => {
    const day = event.target.closest("[data-day]");
    if (day && !day.contains(event.relatedTarget)) day.classList.remove("drop-target");
  });
  root.addEventListener("drop", async (event) => {
    const day = event.target.closest("[data-day]");
    if (!day) return;
    event.preventDefault();
    day.classList.remove("drop-target");
    const id = event.dataTransfer.getData("text/plain");
    if (!/^\d+$/.test(id)) return;
    const body = new URLSearchParams({ due_on: day.dataset.day });
    const response = await fetch(urlFor(id), {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      day.classList.add("drop-failed");
      return;
    }
    // Reload the week so every day's count and load are the server's.
    htmx.ajax("GET", window.location.href, { target: "#week", swap: "innerHTML" });
  });
})();
