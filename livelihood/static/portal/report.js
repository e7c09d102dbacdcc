// Report form: the place comes from a tap on the map or the phone's position, into the hidden lon/lat.
(function () {
  var T = window.portalText || {};
  var lon = document.getElementById("id_lon"), lat = document.getElementById("id_lat"), out = document.getElementById("picked");
  var map = L.map("report-map").setView([30.27, 120.18], 12);
  if (map.cityLegend) map.cityLegend.add("#2563eb", T.picked ? T.picked.replace(/[:：]\s*$/, "") : "Chosen place", "dot");
  // Base layer: the city's district boundaries (no tile server: the machines are offline).
  var areasEl = document.getElementById("portal-areas");
  var areas = areasEl ? JSON.parse(areasEl.textContent) : [];
  if (areas.length) {
    var base = L.geoJSON({type: "FeatureCollection", features: areas.map(function (a) { return {type: "Feature", geometry: a.geometry, properties: {name: a.name}}; })},
      {style: {color: "#505a5f", weight: 1, fillColor: "#e8f0f8", fillOpacity: 0.5}, interactive: false}).addTo(map);
    map.fitBounds(base.getBounds());
  }
  var marker = null;
  function pick(la, lo) {
    lat.value = la.toFixed(6); lon.value = lo.toFixed(6);
    if (marker) marker.setLatLng([la, lo]); else marker = L.marker([la, lo]).addTo(map);
    out.textContent = (T.picked || "") + " " + lat.value + ", " + lon.value;
  }
  if (lon.value && lat.value) pick(Number(lat.value), Number(lon.value));
  map.on("click", function (e) { pick(e.latlng.lat, e.latlng.lng); });
  document.getElementById("use-position").addEventListener("click", function () {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(function (p) { pick(p.coords.latitude, p.coords.longitude); map.setView([p.coords.latitude, p.coords.longitude], 16); });
  });
})();
