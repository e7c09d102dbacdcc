// Every Leaflet map of CityOS gets a base layer and a legend (loaded by {% leaflet_scripts %}).
// Base layer: the configured XYZ tile server (settings.MAP_TILE_URL, with its attribution) or, when
// none is configured (offline, on-premises), the city's own district and street boundaries, roads
// and facilities drawn as vectors from /map/base.geojson, under every other layer and never
// catching clicks (map pickers still get them). Pages add their layers to the legend with
//   map.cityLegend.add("#dc2626", "Open cases")            // a colour swatch
//   map.cityLegend.add("#2563eb", "Devices", "dot")         // a point symbol
// A map created with {cityosBase: false} gets neither.
(function () {
  if (!window.L) return;
  var el = document.getElementById("cityos-map-config");
  var config = el ? JSON.parse(el.textContent) : {};
  var labels = config.labels || {};
  var STYLE = {
    district: {color: "#64748b", weight: 1.6, fill: true, fillColor: "#f1f5f9", fillOpacity: 0.6, dashArray: null},
    street: {color: "#94a3b8", weight: 0.8, fill: false, dashArray: "4 3"},
    road: {color: "#f59e0b", weight: 2, fill: false},
    park: {color: "#16a34a", weight: 1, fillColor: "#bbf7d0", fillOpacity: 0.5},
    facility: {color: "#7c3aed", weight: 1, fillColor: "#ddd6fe", fillOpacity: 0.6}
  };
  var basePromise = null;
  function baseData() {
    if (!basePromise) {
      basePromise = fetch(config.baseUrl, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {features: []}; })
        .catch(function () { return {features: []}; });
    }
    return basePromise;
  }

  var Legend = L.Control.extend({
    options: {position: "bottomright"},
    onAdd: function () {
      var div = L.DomUtil.create("div", "cityos-legend");
      div.setAttribute("role", "note");
      div.style.cssText = "background:rgba(255,255,255,.92);padding:6px 8px;border-radius:4px;font:12px/1.5 sans-serif;color:#1e293b;box-shadow:0 1px 3px rgba(0,0,0,.3);max-width:220px";
      var h = L.DomUtil.create("strong", "", div);
      h.textContent = labels.legend || "Legend";
      this._list = L.DomUtil.create("ul", "", div);
      this._list.style.cssText = "list-style:none;margin:2px 0 0;padding:0";
      this._keys = {};
      L.DomEvent.disableClickPropagation(div);
      return div;
    },
    add: function (color, label, shape) {
      if (!this._list || !label || this._keys[label]) return this;
      this._keys[label] = true;
      var li = L.DomUtil.create("li", "", this._list);
      li.setAttribute("data-legend", label);
      var sw = L.DomUtil.create("span", "", li);
      var round = shape === "dot" ? "50%" : "2px";
      var line = shape === "line" || shape === "dash";
      sw.style.cssText = "display:inline-block;vertical-align:middle;margin-right:6px;width:14px;height:" + (line ? "0" : "10px") +
        ";border-radius:" + round + ";background:" + (line ? "transparent" : color) + ";border:" + (line ? "2px " + (shape === "dash" ? "dashed " : "solid ") + color : "1px solid rgba(0,0,0,.25)");
      li.appendChild(document.createTextNode(label));
      return this;
    }
  });

  L.Map.addInitHook(function () {
    if (this.options.cityosBase === false) return;
    var map = this;
    map.createPane("cityosBase");
    var pane = map.getPane("cityosBase");
    pane.style.zIndex = 150;
    pane.style.pointerEvents = "none";
    map.cityLegend = new Legend();
    map.addControl(map.cityLegend);
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, {attribution: config.attribution || "", pane: "cityosBase", maxZoom: 19}).addTo(map);
      map.cityLegend.add("#e2e8f0", labels.tiles);
      setTimeout(function () { map.fire("cityosbase", {layer: null}); }, 0);
      return;
    }
    if (!config.baseUrl) return;
    baseData().then(function (data) {
      var seen = {};
      var layer = L.geoJSON(data, {
        pane: "cityosBase",
        interactive: false,
        style: function (f) { var k = f.properties.layer; seen[k] = true; return STYLE[k] || STYLE.street; },
        pointToLayer: function (f, latlng) {
          seen[f.properties.layer] = true;
          var s = STYLE[f.properties.layer] || STYLE.facility;
          return L.circleMarker(latlng, {pane: "cityosBase", interactive: false, radius: 3, color: s.color, weight: 1, fillColor: s.fillColor, fillOpacity: 0.9});
        }
      });
      layer.addTo(map);
      layer.bringToBack && layer.bringToBack();
      map.cityBase = layer;
      ["district", "street", "road", "park", "facility"].forEach(function (k) {
        if (!seen[k]) return;
        var s = STYLE[k];
        map.cityLegend.add(s.color, labels[k], k === "street" ? "dash" : k === "road" ? "line" : k === "facility" ? "dot" : "");
      });
      // A map whose page set no view yet (nothing of its own to show) opens on the city.
      if (!map._loaded && layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
      map.fire("cityosbase", {layer: layer});
    });
  });
})();
