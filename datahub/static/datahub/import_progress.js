// Live progress of an import running in the Celery worker, shared by the dataset and the series
// import pages: events from the user's WebSocket (cityos:live), and a slow poll of the API in
// case the socket is down (proxies, reconnects). When the import ends, the page reloads to show
// its result.
//   cityosImportProgress({box: element, event: "datahub.run", match: function (data) {…},
//                         pollUrl: "/api/v1/…/", state: function (data) { return {progress, status, stage}; }})
window.cityosImportProgress = function (opts) {
  var box = opts.box, done = false;
  var terminal = ["succeeded", "partial", "failed", "cancelled"];
  var state = opts.state || function (d) { return d; };
  function show(d) {
    var s = state(d);
    var pct = Math.round((s.progress || 0) * 100);
    box.querySelector("#progress-bar").style.width = pct + "%";
    box.querySelector("#progress-text").textContent = pct + "%";
    box.querySelector(".progress").setAttribute("aria-valuenow", pct);
    var stage = box.querySelector("#stage");
    if (s.stage && stage) stage.textContent = s.stage;
    if (opts.extra) opts.extra(d);
    box.dataset.status = s.status;
    if (!done && terminal.indexOf(s.status) >= 0) { done = true; location.reload(); }
  }
  document.addEventListener("cityos:live", function (e) {
    if (e.detail.event === opts.event && opts.match(e.detail.data)) show(e.detail.data);
  });
  function poll() {
    if (done) return;
    fetch(opts.pollUrl, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) show(d); setTimeout(poll, 1500); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1500);
};
