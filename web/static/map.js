/* geoint map: the offline basemap, the day's layers (replaced in place when the date changes),
 * vector-tile cells, the header, legends that follow the layer switcher, filters, the cell
 * panel, vehicle tracks and alert acknowledgement. Plain DOM and Leaflet (VectorGrid for tiles).
 * Data values reach the page as textContent or option values; popups and tooltips are HTML
 * escaped in Python (geoint.web.map). */
function geointMap(map, control, config) {
  "use strict";
  var S = config.strings;
  var N = config.names;
  var NONE = S.none;
  // served, the page holds no data: it asks the API for the day (and vehicle) in its address
  var address = new URLSearchParams(window.location.search);
  var day = config.data ? config.data.header.day : address.get("day") || address.get("date");
  var vehicle = config.data ? null : address.get("vehicle");

  function element(tag, parent, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return name in values ? String(values[name]) : all;
    });
  }

  function word(value) {
    return (config.vocabulary && config.vocabulary[value]) || value;
  }

  function bind(feature, layer) {
    var p = feature.properties;
    // padded so that an opened popup is never hidden under the header
    if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 380, autoPanPaddingTopLeft: [10, 70]}); }
    if (p.tooltip) { layer.bindTooltip(p.tooltip, {sticky: true}); }
  }

  // ------------------------------------------------------------------ basemap
  map.createPane("geointBasemap").style.zIndex = 250;
  map.createPane("geointCells").style.zIndex = 350;
  var labelPane = map.createPane("geointLabels");
  labelPane.style.zIndex = 450;
  labelPane.style.pointerEvents = "none";

  function basemapLayer(data) {
    var group = L.layerGroup();
    var pane = {pane: "geointBasemap", interactive: false};
    L.geoJSON(data.countries, Object.assign({style: function (f) {
      return {fillColor: f.properties.colour, fillOpacity: 1, color: "#b5a98c", weight: 0.8};
    }}, pane)).addTo(group);
    if (data.hillshade) {
      L.imageOverlay(data.hillshade, data.hillshadeBounds, pane).addTo(group);
    }
    L.geoJSON(data.coast, Object.assign({style: {color: "#5b8db8", weight: 1.2}}, pane))
      .addTo(group);
    L.geoJSON(data.rivers, Object.assign({style: {color: "#6fa3cf", weight: 1.1}}, pane))
      .addTo(group);
    L.geoJSON(data.lakes, Object.assign({style: {color: "#5b8db8", weight: 0.8, fillOpacity: 1,
                                                 fillColor: "#a9cce3"}}, pane)).addTo(group);
    data.labels.features.forEach(function (f) {
      var c = f.geometry.coordinates;
      L.marker([c[1], c[0]], {pane: "geointLabels", interactive: false, keyboard: false,
        icon: L.divIcon({className: "geoint-country", html: f.properties.name,
                         iconSize: null})}).addTo(group);
    });
    var towns = L.layerGroup().addTo(group);
    var townMarkers = data.towns.features.map(function (f) {
      var c = f.geometry.coordinates;
      return {zoom: f.properties.zoom, marker: L.marker([c[1], c[0]], {
        pane: "geointLabels", interactive: false, keyboard: false,
        icon: L.divIcon({className: "geoint-town", html: "<i></i>" + f.properties.name,
                         iconSize: null, iconAnchor: [3, 3]})})};
    });
    function showTowns() {
      var zoom = map.getZoom();
      townMarkers.forEach(function (t) {
        var shown = zoom >= t.zoom;
        if (shown !== towns.hasLayer(t.marker)) {
          if (shown) { towns.addLayer(t.marker); } else { towns.removeLayer(t.marker); }
        }
      });
    }
    map.on("zoomend", showTowns);
    map.whenReady(showTowns);
    return group;
  }

  var bases = [["basemap", basemapLayer(config.basemap)], ["none", L.layerGroup()]];
  if (config.localBasemap) {
    var local = config.localBasemap;
    var localLayer = local.format === "pbf"
      ? L.vectorGrid.protobuf(local.url, {maxNativeZoom: local.maxzoom, maxZoom: 18})
      : L.tileLayer(local.url, {maxNativeZoom: local.maxzoom, maxZoom: 18,
                                attribution: local.attribution || ""});
    bases.push(["local", localLayer]);
  }
  // explicit choice only: no tile is requested until it is picked in the switcher
  bases.push(["osm", L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    {maxZoom: 19, attribution: "&copy; OpenStreetMap contributors"})]);
  bases.forEach(function (b) {
    // names are HTML in the switcher: the local basemap's is escaped in Python
    control.addBaseLayer(b[1], b[0] === "local" ? N.local + " (" + local.name + ")" : N[b[0]]);
  });
  bases[0][1].addTo(map);
  map.getContainer().classList.add("geoint-sea");
  map.on("baselayerchange", function (e) {
    map.getContainer().classList.toggle("geoint-sea", e.name === N.basemap);
  });

  // ------------------------------------------------------------------ day layers
  var DAY = ["risk", "hotspots", "events", "alerts", "seizures", "partner", "track"];
  var SHOWN = {risk: true, hotspots: false, events: true, alerts: true, seizures: true,
               partner: true, track: true};
  var options = {
    risk: {style: function (f) {
      return {color: f.properties.colour, fillColor: f.properties.colour, weight: 0.5,
              fillOpacity: 0.35 + f.properties.risk / 250, opacity: 0.7};
    }},
    hotspots: {style: function (f) {
      return {color: f.properties.colour, fillColor: f.properties.colour, weight: 1,
              fillOpacity: 0.7};
    }},
    events: {pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 4, color: "#ffffff", weight: 1,
                                     fillColor: f.properties.colour || "#e7298a",
                                     fillOpacity: 0.95});
    }},
    alerts: {pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 8, color: "#000000", weight: 2,
                                     fillColor: f.properties.colour, fillOpacity: 0.95});
    }},
    seizures: {pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 7, color: f.properties.colour, weight: 1,
                                     fillColor: f.properties.colour, fillOpacity: 0.9});
    }},
    partner: {pointToLayer: function (f, latlng) {
      return L.circleMarker(latlng, {radius: 7, color: "#000000", weight: 1, dashArray: "2 2",
                                     fillColor: f.properties.colour, fillOpacity: 0.9});
    }},
    track: {
      style: function (f) { return {color: f.properties.colour, weight: 3, opacity: 0.9}; },
      pointToLayer: function (f, latlng) {
        var event = f.properties.kind === "event";
        return L.circleMarker(latlng, {radius: event ? 7 : 3, color: event ? "#000" : "#fff",
          weight: 1, fillColor: f.properties.colour, fillOpacity: 0.95});
      }
    }
  };
  var holders = {};
  var items = {};
  DAY.forEach(function (id) {
    if (id === "risk" && config.tiles) { return; }
    holders[id] = id === "seizures" ? L.markerClusterGroup() : L.featureGroup();
    items[id] = [];
  });

  function setData(id, collection) {
    if (!holders[id]) { return; }
    var built = collection
      ? L.geoJSON(collection, Object.assign({onEachFeature: bind}, options[id])).getLayers()
      : [];
    items[id] = built.map(function (item) { return {item: item, props: item.feature.properties}; });
  }

  function showData(data) {
    DAY.forEach(function (id) { setData(id, data.layers[id]); });
    refreshFilters();
    apply();
    DAY.forEach(function (id) {
      if (!holders[id]) { return; }
      var inControl = control._layers.some(function (l) { return l.layer === holders[id]; });
      if (items[id].length && !inControl) {
        control.addOverlay(holders[id], N[id]);
        if (SHOWN[id]) { holders[id].addTo(map); }
      }
    });
    header(data.header);
  }

  // ------------------------------------------------------------------ vector tiles
  var tileLayers = {};
  var tilesShown = [];  // added to the map once the day they draw is known
  function tileUrl(spec) {
    return day ? spec.url + "?date=" + encodeURIComponent(day) : spec.url;
  }
  if (config.tiles) {
    Object.keys(config.tiles).forEach(function (metric) {
      var spec = config.tiles[metric];
      function colour(value) {
        var i = 0;
        while (i < spec.breaks.length && value >= spec.breaks[i]) { i++; }
        return spec.colours[i];
      }
      var styles = {};
      styles[metric] = function (p) {
        var c = colour(p.value);
        var strength = Math.min(1, Math.max(0, p.value / spec.breaks[spec.breaks.length - 1]));
        return {fill: true, fillColor: c, fillOpacity: 0.35 + 0.4 * strength, color: c,
                weight: 0.5, opacity: 0.8};
      };
      var layer = L.vectorGrid.protobuf(tileUrl(spec), {
        pane: "geointCells", interactive: true, maxZoom: 22, metric: metric,
        rendererFactory: L.svg.tile, vectorTileLayerStyles: styles,
        fetchOptions: {credentials: "same-origin"},
        getFeatureId: function (f) { return f.properties.cell; }
      });
      layer.on("click", function (e) { openCell(e.layer.properties.cell); });
      control.addOverlay(layer, spec.name);
      if (spec.show) { tilesShown.push(layer); }
      tileLayers[metric] = layer;
    });
  }

  // ------------------------------------------------------------------ header
  var top = L.DomUtil.create("div", "geoint-header", map.getContainer());
  L.DomEvent.disableClickPropagation(top);
  var dateSelect = null;

  function header(h) {
    top.textContent = "";
    element("b", top, config.region);
    var when = element("span", top, null, "geoint-day");
    if (h.days.length) {
      var label = element("label", when, S.date + " ");
      dateSelect = element("select", label, null, "geoint-date");
      h.days.forEach(function (value) {
        var option = element("option", dateSelect, value);
        option.value = value;
        option.selected = value === h.day;
        if (h.completeDays.indexOf(value) < 0) { option.textContent += " *"; }
      });
      dateSelect.addEventListener("change", function () { changeDay(dateSelect.value); });
    } else if (h.day) {
      element("span", when, h.day);
    }
    var c = h.counts;
    element("span", top, c.events + " " + S.events + " · " + c.alerts + " " + S.alerts + " · " +
            c.seizures + " " + S.seizures, "geoint-counts");
    if (h.latestPing) { element("span", top, S.latestPing + " " + h.latestPing, "geoint-ping"); }
    if (h.partial) { element("div", top, S.partial, "geoint-partial"); }
    if (h.note) {
      var note = element("div", top, null, "geoint-note");
      note.innerHTML = h.note;  // escaped in Python
    }
  }

  function changeDay(value) {
    day = value;
    // the address names the day shown, so that it can be shared as a link (no reload)
    var address = new URL(window.location.href);
    address.searchParams.delete("date");
    address.searchParams.set("day", value);
    window.history.replaceState(window.history.state, "", address.toString());
    Object.keys(tileLayers).forEach(function (metric) {
      tileLayers[metric].setUrl(tileUrl(config.tiles[metric]));
    });
    showDay();
  }

  function loadDay() {
    var params = new URLSearchParams({lang: config.lang});
    if (day) { params.set("date", day); }
    if (vehicle) { params.set("vehicle", vehicle); }
    return fetch(config.api + "/map/day?" + params.toString(), {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
        return response.json();
      }).then(function (data) {
        day = data.header.day;
        showData(data);
        // the cell tiles of the day, once it is known (the first answer names the default day)
        tilesShown.splice(0).forEach(function (layer) {
          layer.setUrl(tileUrl(config.tiles[layer.options.metric]), true);
          layer.addTo(map);
        });
      });
  }

  // loadDay, "loading…" in the header meanwhile (the new header replaces it), a failure said
  function showDay(then) {
    var status = element("span", top, S.loading, "geoint-loading");
    return loadDay().then(then).catch(function (error) {
      status.textContent = S.failed + error.message;
    });
  }

  // ------------------------------------------------------------------ filters
  var selects = {};
  var panel = L.control({position: "bottomright"});
  var filterDiv;
  panel.onAdd = function () {
    filterDiv = L.DomUtil.create("div", "geoint-controls");
    L.DomEvent.disableClickPropagation(filterDiv);
    L.DomEvent.disableScrollPropagation(filterDiv);
    return filterDiv;
  };
  panel.addTo(map);

  function key(value) {
    return value === null || value === undefined ? NONE : String(value);
  }

  function refreshFilters() {
    Object.keys(config.filters).forEach(function (name) {
      var values = {};
      Object.keys(items).forEach(function (id) {
        items[id].forEach(function (entry) {
          if (name in entry.props) { values[key(entry.props[name])] = true; }
        });
      });
      var found = Object.keys(values).sort();
      var select = selects[name];
      if (!select) {
        if (!found.length) { return; }
        var label = element("label", filterDiv, config.filters[name] + " ");
        select = element("select", label);
        select.dataset.filter = name;
        select.addEventListener("change", apply);
        selects[name] = select;
      }
      var wanted = select.value;
      select.textContent = "";
      element("option", select, S.all).value = "";
      found.forEach(function (value) { element("option", select, word(value)).value = value; });
      if (wanted && found.indexOf(wanted) < 0) {
        element("option", select, word(wanted)).value = wanted;  // kept across days
      }
      select.value = wanted;
    });
  }

  function apply() {
    Object.keys(items).forEach(function (id) {
      var holder = holders[id];
      var shown = items[id].filter(function (entry) {
        return Object.keys(selects).every(function (name) {
          var wanted = selects[name].value;
          return wanted === "" || !(name in entry.props) || key(entry.props[name]) === wanted;
        });
      }).map(function (entry) { return entry.item; });
      holder.clearLayers();
      if (holder.addLayers) { holder.addLayers(shown); }
      else { shown.forEach(function (item) { holder.addLayer(item); }); }
    });
  }

  // ------------------------------------------------------------------ legends
  var legend = L.control({position: "bottomleft"});
  var legendDiv;
  legend.onAdd = function () {
    legendDiv = L.DomUtil.create("div", "geoint-legend");
    L.DomEvent.disableScrollPropagation(legendDiv);
    return legendDiv;
  };
  legend.addTo(map);

  function updateLegend() {
    var html = control._layers.filter(function (entry) {
      return map.hasLayer(entry.layer) && config.legends[entry.name];
    }).map(function (entry) { return config.legends[entry.name]; });
    legendDiv.innerHTML = html.join("");  // built and escaped in Python (geoint.web.legend)
    legendDiv.style.display = html.length ? "" : "none";
  }
  map.on("overlayadd overlayremove layeradd layerremove", function () {
    window.clearTimeout(updateLegend.timer);
    updateLegend.timer = window.setTimeout(updateLegend, 0);
  });

  if (config.data) {
    showData(config.data);
  } else {
    element("b", top, config.region);
    showDay();
  }
  updateLegend();
  // for scripts driving the page (tests, screenshots): the day's features and the tile layers
  map.geoint = {items: items, holders: holders, tiles: tileLayers, control: control};

  // ------------------------------------------------------------------ cell panel
  var side = L.DomUtil.create("div", "geoint-panel", map.getContainer());
  side.style.display = "none";
  L.DomEvent.disableClickPropagation(side);
  L.DomEvent.disableScrollPropagation(side);

  function localTime(iso) {
    return new Intl.DateTimeFormat(config.lang, {timeZone: config.timezone, year: "numeric",
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      timeZoneName: "short"}).format(new Date(iso));
  }

  function km(metres) { return (metres / 1000).toFixed(1); }

  function section(title, list, empty, render) {
    element("h4", side, title);
    if (!list.length) { element("p", side, empty, "geoint-empty"); return; }
    var ul = element("ul", side, null, "geoint-list");
    list.forEach(function (item) { render(element("li", ul), item); });
  }

  function openCell(cell) {
    side.style.display = "";
    side.textContent = "";
    element("p", side, S.loading);
    var params = "?days=1&events_limit=20&seizures_limit=10";
    fetch(config.api + "/cells/" + encodeURIComponent(cell) + params,
          {credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      }).then(function (result) {
        side.textContent = "";
        var close = element("button", side, S.close, "geoint-close");
        close.type = "button";
        close.addEventListener("click", function () { side.style.display = "none"; });
        if (!result.ok) {
          element("p", side, S.failed + (result.body.detail || result.body.title));
          return;
        }
        showCell(result.body);
      }).catch(function (error) {
        side.textContent = "";
        element("p", side, S.failed + error.message);
      });
  }

  function showCell(d) {
    element("h3", side, S.cell + " " + d.cell + " (res " + d.resolution + ")");
    element("p", side, S.risk + " " + d.latest.risk.toFixed(1) + " / 100 (" + d.latest.date + ")",
            "geoint-risk");
    element("h4", side, S.factors);
    var table = element("table", side, null, "geoint-factors");
    Object.keys(d.latest.factors).forEach(function (name) {
      var f = d.latest.factors[name];
      var row = element("tr", table);
      element("th", row, S["factor_" + name] || name);
      // patrol-effort adjustments only lower the score: they have no maximum (weight null)
      var of = f.weight === null || f.weight === undefined ? "" : " / " + f.weight.toFixed(0);
      element("td", row, f.points.toFixed(1) + of);
    });
    var events = d.events.items;
    section(S.cellEvents + " (" + d.events.numberMatched + ")", events, S.noEvents,
      function (li, e) {
        var text = word(e.event_type.replace(/_/g, " ")) + ": " + e.vehicle_id + ", " +
          localTime(e.start);
        var border = e.distance_to_border_m;
        if (border !== null && border !== undefined) {
          text += ", " + (border < 1000 ? format(S.fromBorderM, {m: Math.round(border)})
                                        : format(S.fromBorder, {km: km(border)}));
        }
        li.textContent = text;
      });
    var ids = {};
    events.forEach(function (e) { ids[e.event_id] = true; });
    var open = (items.alerts || []).filter(function (entry) {
      return entry.props.cell === d.cell || ids[entry.props.event_id];
    });
    section(S.openAlerts, open, S.noAlerts, function (li, entry) {
      var link = element("a", li, "#" + entry.props.alert_id + " " + word(entry.props.severity) +
                         " · " + entry.props.rule + " · " + word(entry.props.status));
      link.href = "#";
      link.addEventListener("click", function (event) {
        event.preventDefault();
        map.setView(entry.item.getLatLng(), Math.max(map.getZoom(), 12));
        entry.item.openPopup();
      });
    });
    var radius = km(d.seizures.radius_m).replace(/\.0$/, "");
    section(format(S.nearbySeizures, {km: radius}), d.seizures.items, S.noSeizures,
      function (li, s) {
        li.textContent = word((s.commodity || "other").replace(/_/g, " ")) + " · " +
          s.ts.slice(0, 10) + " · " + format(S.away, {km: km(s.distance_m)}) + " · " +
          s.seizure_id;
      });
  }

  // ------------------------------------------------------------------ popup buttons
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("button");
    if (!target) { return; }
    if (target.classList.contains("geoint-zoom")) {
      map.setView([+target.dataset.lat, +target.dataset.lon], 14);
    } else if (target.classList.contains("geoint-track") && config.api) {
      vehicle = target.dataset.vehicle;
      showDay(function () {
        if (!map.hasLayer(holders.track)) { holders.track.addTo(map); }
        if (items.track.length) { map.fitBounds(holders.track.getBounds(), {maxZoom: 14}); }
      });
    } else if (target.classList.contains("geoint-ack") && config.api) {
      acknowledge(target);
    }
  });

  function acknowledge(button) {
    var id = button.dataset.alert;
    var card = button.closest(".geoint-card");
    button.disabled = true;
    fetch(config.api + "/alerts/" + encodeURIComponent(id) + "/ack", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({note: "acknowledged on the map"})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (result) {
      if (!result.ok) {
        element("p", card, S.notAcknowledged + (result.body.detail || result.body.title));
        button.disabled = false;
        return;
      }
      card.querySelectorAll("tr").forEach(function (tr, index) {
        if (index === 0) { tr.lastElementChild.textContent = word(result.body.status); }
      });
      button.remove();
      element("p", card, format(S.acknowledged, {version: result.body.version}), "geoint-acked");
      (items.alerts || []).forEach(function (entry) {
        if (String(entry.props.alert_id) === id) {
          entry.props.status = result.body.status;
          entry.item.setPopupContent(card.outerHTML);
        }
      });
    }).catch(function (error) {
      element("p", card, S.notAcknowledged + error.message);
      button.disabled = false;
    });
  }

  geointPhone(map, control, {header: top, legend: legendDiv, filters: filterDiv, panel: side,
                             strings: S});
}

// ------------------------------------------------------------------ phones
/* The map on a phone. map.css lays it out (the header across the top, the legend and the
 * filters as drawers, the cell panel as a bottom sheet, popups within the screen); this only
 * keeps the top controls below the header (its height depends on the language and the day),
 * collapses the layer switcher to Leaflet's toggle (a tap opens it, a tap on the map closes it),
 * opens the legend and the filters from two buttons, one drawer at a time, and keeps a tapped
 * cell above its bottom sheet. Above the query's size nothing changes: the buttons are hidden
 * and the switcher stays open. */
function geointPhone(map, control, parts) {
  "use strict";
  var S = parts.strings;
  // the query of map.css's phone block: the two change together
  var phone = window.matchMedia("(max-width: 600px), (max-height: 500px)");
  var container = map.getContainer();
  var drawers = {legend: parts.legend, filters: parts.filters};
  var buttons = {};

  function fitBelowHeader() {
    container.style.setProperty("--geoint-top", parts.header.offsetHeight + "px");
  }
  fitBelowHeader();
  if (window.ResizeObserver) { new ResizeObserver(fitBelowHeader).observe(parts.header); }
  window.addEventListener("resize", fitBelowHeader);

  var link = control.getContainer().querySelector(".leaflet-control-layers-toggle");
  link.title = S.layers;
  link.setAttribute("aria-label", S.layers);

  function show(name, open) {
    container.classList.toggle("geoint-open-" + name, open);
    buttons[name].setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeDrawers() {
    Object.keys(drawers).forEach(function (name) { show(name, false); });
  }

  var toggles = L.control({position: "topright"});
  toggles.onAdd = function () {
    var div = L.DomUtil.create("div", "geoint-toggles leaflet-control");
    L.DomEvent.disableClickPropagation(div);
    // nor clicks: two quick taps on the buttons would be taken for a double tap on the map
    L.DomEvent.on(div, "click", L.DomEvent.stopPropagation);
    [["legend", S.legend, S.legendToggle], ["filters", S.filters, S.filtersToggle]]
      .forEach(function (spec) {
        var name = spec[0];
        var drawer = drawers[name];
        drawer.id = drawer.id || "geoint-" + name + "-" + L.stamp(map);
        var button = L.DomUtil.create("button", "geoint-toggle", div);
        button.type = "button";
        button.textContent = spec[1];
        button.setAttribute("aria-label", spec[2]);
        button.setAttribute("aria-controls", drawer.id);
        button.setAttribute("aria-expanded", "false");
        button.addEventListener("click", function () {
          var open = !container.classList.contains("geoint-open-" + name);
          closeDrawers();
          if (open) {
            control.collapse();
            parts.panel.style.display = "none";  // the sheet would cover the drawer
          }
          show(name, open);
        });
        buttons[name] = button;
      });
    return div;
  };
  toggles.addTo(map);

  var tapped = null;
  map.on("click", function (event) {
    tapped = event.latlng;
    if (phone.matches) {
      control.collapse();
      closeDrawers();
    }
  });
  // the cell tapped stays in sight, above the sheet its panel opens as (filled once fetched)
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      if (!phone.matches || !tapped || parts.panel.style.display === "none") { return; }
      var y = map.latLngToContainerPoint(tapped).y;
      var sheet = parts.panel.offsetTop;
      if (y > sheet - 20) {
        map.panBy([0, y - (parts.header.offsetHeight + sheet) / 2], {animate: false});
      }
    }).observe(parts.panel);
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && phone.matches) { closeDrawers(); }
  });

  function layout() {
    closeDrawers();
    // Leaflet opens a switcher not marked collapsed whenever a layer joins it (a day's data)
    control.options.collapsed = phone.matches;
    if (phone.matches) { control.collapse(); } else { control.expand(); }
  }
  layout();
  if (phone.addEventListener) { phone.addEventListener("change", layout); }
}
