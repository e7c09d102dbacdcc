// The 12345 intake desk: map picker, address search, and the suggestion panel's buttons.
(function () {
  var form = document.getElementById("intake-form");
  if (!form) return;
  var lon = form.querySelector("[name=lon]"), lat = form.querySelector("[name=lat]");
  var picked = document.getElementById("picked-point");
  var mapEl = document.getElementById("intake-map");
  var map = null, marker = null;
  function changed() { if (window.htmx) htmx.trigger(document.body, "picked"); }
  function setPoint(latlng, label) {
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    if (!marker) marker = L.marker(latlng).addTo(map); else marker.setLatLng(latlng);
    picked.textContent = (label ? label + " · " : "") + lat.value + ", " + lon.value;
    picked.dataset.picked = "1";
    changed();
  }
  if (mapEl && window.L) {
    // No view of its own: the base map opens it on the city (see cityos/basemap.js).
    map = L.map(mapEl);
    window.intakeMap = map;
    map.cityLegend && map.cityLegend.add("#2563eb", picked.dataset.legend, "dot");
    if (lon.value && lat.value) { map.setView([+lat.value, +lon.value], 15); setPoint(L.latLng(+lat.value, +lon.value)); }
    map.on("click", function (e) { setPoint(e.latlng); });
    map.on("cityosbase", function () { if (!map._loaded) map.setView([30.25, 120.15], 11); });
    mapEl.dataset.ready = "1";
  }
  var results = document.getElementById("place-results");
  function search() {
    var q = form.querySelector("[name=address]").value.trim();
    results.innerHTML = "";
    if (q.length < 2) return;
    fetch("places/?q=" + encodeURIComponent(q), {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      data.results.forEach(function (p, i) {
        var li = document.createElement("li"), b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = p.label; b.dataset.place = i;
        b.addEventListener("click", function () { results.innerHTML = ""; if (map) map.setView([p.lat, p.lon], 16); setPoint(L.latLng(p.lat, p.lon), p.label); });
        li.appendChild(b); results.appendChild(li);
      });
      if (!data.results.length) { var li = document.createElement("li"); li.className = "muted small"; li.textContent = "—"; results.appendChild(li); }
    });
  }
  document.getElementById("place-search").addEventListener("click", search);
  form.querySelector("[name=address]").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); search(); } });
  // Buttons of the suggestion panel (swapped in by htmx).
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t.dataset.useCategory) { form.querySelector("[name=category]").value = t.dataset.useCategory; t.textContent = "✓"; }
    if (t.dataset.useDepartment) { form.querySelector("[name=department]").value = t.dataset.useDepartment; t.textContent = "✓"; }
    if (t.dataset.answer) {
      form.querySelector("[name=article]").value = t.dataset.answer;
      document.getElementById("intake-mode").value = "answer";
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }
  });
})();
