// Live events over the authenticated WebSocket (/ws/live/), reconnecting with backoff.
// Pages listen with: document.addEventListener("cityos:live", e => e.detail.event / e.detail.data)
(function () {
  var delay = 1000;
  var statusEl = document.getElementById("live-status");
  function setStatus(text) { if (statusEl) statusEl.textContent = text; }
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws/live/");
    ws.onopen = function () { delay = 1000; setStatus("✓"); };
    ws.onmessage = function (msg) {
      var payload = JSON.parse(msg.data);
      document.dispatchEvent(new CustomEvent("cityos:live", {detail: payload}));
      var feed = document.getElementById("live-feed");
      // Events with data.feed === false are for pages that refresh themselves (e.g. alert.changed).
      var quiet = payload.data && payload.data.feed === false;
      if (feed && !quiet && payload.event !== "hello" && payload.event !== "pong") {
        var empty = document.getElementById("feed-empty");
        if (empty) empty.remove();
        var li = document.createElement("li");
        li.textContent = new Date().toLocaleTimeString() + " " + payload.event + " " + (payload.data && payload.data.title || "");
        if (payload.data && payload.data.severity === "critical") li.className = "critical";
        feed.insertBefore(li, feed.firstChild);
      }
    };
    ws.onclose = function () { setStatus("…"); setTimeout(connect, delay); delay = Math.min(delay * 2, 30000); };
    window.cityosLive = ws;
  }
  if ("WebSocket" in window) connect();
})();
