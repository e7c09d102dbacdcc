// Facility map: server-side clusters (/facilities/clusters/) redrawn on every move, nearest list for the centre.
(function () {
  var T = window.portalText || {};
  var el = document.getElementById("facility-map");
  var centre = (el.dataset.centre || "30.27,120.18").split(",").map(Number);
  var map = L.map(el).setView(centre, 12);
  if (map.cityLegend) {  // basemap.js: the legend of this map's own layers
    map.cityLegend.add("#0b4f9c", T.facility || "Facility", "dot");
    map.cityLegend.add("#0b4f9c", T.group || "Group of facilities (how many)");
  }
  // Base layer: the city's district boundaries (no tile server: the machines are offline).
  var areasEl = document.getElementById("portal-areas");
  var areas = areasEl ? JSON.parse(areasEl.textContent) : [];
  if (areas.length) {
    var base = L.geoJSON({type: "FeatureCollection", features: areas.map(function (a) { return {type: "Feature", geometry: a.geometry, properties: {name: a.name}}; })},
      {style: {color: "#505a5f", weight: 1, fillColor: "#e8f0f8", fillOpacity: 0.5}, interactive: false}).addTo(map);
    map.fitBounds(base.getBounds());
  }
  var layer = L.layerGroup().addTo(map);
  var typeSel = document.getElementById("map-type");
  function esc(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  function load() {
    var b = map.getBounds(), type = typeSel.value;
    var bbox = [Math.max(-180, b.getWest()), Math.max(-90, b.getSouth()), Math.min(180, b.getEast()), Math.min(90, b.getNorth())].map(function (x) { return x.toFixed(5); }).join(",");
    fetch("/api/v1/livelihood/facilities/clusters/?zoom=" + map.getZoom() + "&bbox=" + bbox + (type ? "&type=" + type : ""))
      .then(function (r) { return r.json(); }).then(function (cells) {
        layer.clearLayers();
        cells.forEach(function (c) {
          if (c.count === 1) {
            L.circleMarker([c.lat, c.lon], {radius: 7, color: "#0b4f9c", fillOpacity: 0.9}).bindPopup(esc(c.name)).addTo(layer);
          } else {
            L.marker([c.lat, c.lon], {icon: L.divIcon({className: "", html: '<span class="cluster">' + c.count + "</span>"}), keyboard: false})
              .on("click", function () { map.setView([c.lat, c.lon], map.getZoom() + 2); }).addTo(layer);
          }
        });
      });
    var ctr = map.getCenter();
    if (window.portalNearest) portalNearest(ctr.lng.toFixed(6), ctr.lat.toFixed(6), type, document.getElementById("near-list"));
  }
  map.on("moveend", load);
  typeSel.addEventListener("change", load);
  load();
})();
