// The portal's small scripts: nearby facilities on the home page, live notices over /ws/portal/.
(function () {
  var T = window.portalText || {};
  var en = (document.documentElement.lang || "").indexOf("en") === 0;
  function esc(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  window.portalNearest = function (lon, lat, type, list) {
    var url = "/api/v1/livelihood/facilities/nearest/?limit=5&lon=" + lon + "&lat=" + lat + (type ? "&type=" + type : "");
    fetch(url).then(function (r) { return r.json(); }).then(function (rows) {
      list.innerHTML = rows.length ? rows.map(function (f) {
        // The type by its label (from the API, in the page's language), never its code.
        var name = (en && f.name_en) ? f.name_en : f.name;
        return "<li>" + esc(name) + " <small>" + esc(f.type_label) + " · " + Math.round(f.distance_m) + " " + esc(T.metres || "m") + (f.address ? " · " + esc(f.address) : "") + "</small></li>";
      }).join("") : "<li>" + esc(T.none || "") + "</li>";
    });
  };
  var btn = document.getElementById("near-btn");
  if (btn) {
    btn.addEventListener("click", function () {
      var list = document.getElementById("near-list"), type = document.getElementById("near-type").value;
      var centre = [120.18, 30.27];
      if (navigator.geolocation) {
        navigator.geolocation.getCurrentPosition(function (p) { portalNearest(p.coords.longitude, p.coords.latitude, type, list); },
          function () { list.innerHTML = "<li>" + esc(T.denied || "") + "</li>"; portalNearest(centre[0], centre[1], type, list); },
          {timeout: 5000});
      } else { portalNearest(centre[0], centre[1], type, list); }
    });
  }
  if ("WebSocket" in window) {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      var ws = new WebSocket(proto + location.host + "/ws/portal/");
      ws.onmessage = function (m) {
        var p = JSON.parse(m.data);
        if (p.event !== "livelihood.notice") return;
        var toast = document.getElementById("portal-toast");
        toast.innerHTML = '<a href="' + esc(p.data.url) + '" style="color:#fff">' + esc(p.data.title) + "</a>";
        toast.hidden = false;
        setTimeout(function () { toast.hidden = true; }, 10000);
      };
    } catch (e) { /* live notices are a nicety */ }
  }
})();
