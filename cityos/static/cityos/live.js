// Live events over the authenticated WebSocket (/ws/live/), reconnecting with backoff.
// Pages listen with: document.addEventListener("cityos:live", e => e.detail.event / e.detail.data)
(function () {
  var delay = 1000;
  // The home page embeds the translated labels of event types: the feed reads "工单超期", not "case.overdue".
  var labelsEl = document.getElementById("live-event-labels");
  var labels = labelsEl ? JSON.parse(labelsEl.textContent) : {};
  function eventLabel(type, data) {
    if (type === "governance.case_updated" && data.action && labels["case." + data.action]) return labels["case." + data.action];
    if (labels[type]) return labels[type];
    return labels[(type || "").split(".")[0] + ".*"] || "";
  }
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
        li.appendChild(document.createTextNode(new Date().toLocaleTimeString() + " "));
        var d = payload.data || {}, text = [eventLabel(payload.event, d)];
        if (d.tracking_number) text.push(d.tracking_number);
        if (d.title) text.push(d.title);
        var alertId = d.alert_id || (/^alert\./.test(payload.event) && d.id);
        var link = d.case_id ? "/governance/cases/" + d.case_id + "/" : alertId ? "/monitoring/alerts/" + alertId + "/" : "";
        var node = document.createElement(link ? "a" : "span");
        if (link) node.href = link;
        node.textContent = text.join(" · ");
        li.appendChild(node);
        if (payload.data && payload.data.severity === "critical") li.className = "critical";
        feed.insertBefore(li, feed.firstChild);
      }
    };
    ws.onclose = function () { setStatus("…"); setTimeout(connect, delay); delay = Math.min(delay * 2, 30000); };
    window.cityosLive = ws;
  }
  if ("WebSocket" in window) connect();
})();
