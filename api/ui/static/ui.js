// Faultline workspace: the queue shows new tickets without a reload (polls the rows every few seconds).
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) { return; }
  var every = 3000;
  function refresh() {
    fetch(queue.getAttribute("data-poll") + "&fragment=rows", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var before = queue.querySelectorAll("tr[data-id]").length;
        var seen = {};
        queue.querySelectorAll("tr[data-id]").forEach(function (tr) { seen[tr.getAttribute("data-id")] = true; });
        queue.innerHTML = html;
        var fresh = 0;
        queue.querySelectorAll("tr[data-id]").forEach(function (tr) {
          if (!seen[tr.getAttribute("data-id")]) { tr.classList.add("fresh"); fresh += 1; }
        });
        if (fresh && before) { document.getElementById("new-tickets").hidden = false; }
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
