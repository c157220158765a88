/* geoint map controls: feature filters, the served map's date selector, alert acknowledgement.
 * Plain DOM and Leaflet, no other library. Data values reach the page only as textContent or
 * option values, never as HTML. */
function geointControls(map, config) {
  "use strict";
  var NONE = "(none)";
  var entries = [];
  config.layers.forEach(function (names) {
    var layer = window[names.layer];
    var container = names.parent ? window[names.parent] : layer;
    layer.eachLayer(function (item) {
      entries.push({item: item, container: container, props: item.feature.properties});
    });
  });

  function key(value) {
    return value === null || value === undefined ? NONE : String(value);
  }

  function element(tag, parent, text) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  var selects = {};

  function apply() {
    entries.forEach(function (entry) {
      var shown = Object.keys(selects).every(function (name) {
        var wanted = selects[name].value;
        return wanted === "" || !(name in entry.props) || key(entry.props[name]) === wanted;
      });
      if (shown !== entry.container.hasLayer(entry.item)) {
        if (shown) { entry.container.addLayer(entry.item); }
        else { entry.container.removeLayer(entry.item); }
      }
    });
  }

  var panel = L.control({position: "bottomleft"});
  panel.onAdd = function () {
    var div = L.DomUtil.create("div", "geoint-controls");
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    if (config.days.length) {
      var label = element("label", div, "date ");
      var day = element("select", label);
      day.className = "geoint-date";
      config.days.forEach(function (value) {
        var option = element("option", day, value);
        option.value = value;
        option.selected = value === config.day;
      });
      day.addEventListener("change", function () {
        var params = new URLSearchParams(window.location.search);
        params.set("date", day.value);
        window.location.search = params.toString();
      });
    }
    config.filters.forEach(function (filter) {
      var name = filter[0];
      var values = {};
      entries.forEach(function (entry) {
        if (name in entry.props) { values[key(entry.props[name])] = true; }
      });
      var found = Object.keys(values).sort();
      if (!found.length) { return; }
      var label = element("label", div, filter[1] + " ");
      var select = element("select", label);
      select.dataset.filter = name;
      element("option", select, "all").value = "";
      found.forEach(function (value) { element("option", select, value).value = value; });
      select.addEventListener("change", apply);
      selects[name] = select;
    });
    return div;
  };
  panel.addTo(map);

  if (!config.api) { return; }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.geoint-ack");
    if (!button) { return; }
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
        element("p", card, "not acknowledged: " + (result.body.detail || result.body.title));
        button.disabled = false;
        return;
      }
      card.querySelectorAll("th").forEach(function (th) {
        if (th.textContent === "status") { th.nextElementSibling.textContent = result.body.status; }
      });
      button.remove();
      element("p", card, "acknowledged (version " + result.body.version + ")").className =
        "geoint-acked";
      entries.forEach(function (entry) {
        if (String(entry.props.alert_id) === id) { entry.item.setPopupContent(card.outerHTML); }
      });
    }).catch(function (error) {
      element("p", card, "not acknowledged: " + error.message);
      button.disabled = false;
    });
  });
}
