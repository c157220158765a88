/* geoint seizure trends: reads the filters, asks the API, draws Vega-Lite charts.
   Values from the data reach the page only as Vega text marks or via textContent. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("geoint-config").textContent);
  var form = document.getElementById("filters");
  var status = document.getElementById("status");
  var NOT_GIVEN = "(not given)";
  var EMBED = {actions: {export: true, source: false, compiled: false, editor: false},
               renderer: "svg", tooltip: true};
  var commodities = Object.keys(config.colours);
  var commodityColour = {field: "commodity", type: "nominal", title: "commodity",
    scale: {domain: commodities, range: commodities.map(function (c) { return config.colours[c]; })}};
  var FILTERS = ["from", "to", "commodity", "transport_mode", "direction", "concealment",
                 "detection_method", "origin_country", "destination_country", "crossing", "origin", "q"];

  function filters() {
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) { params.set(name, value); }
    });
    return params;
  }

  function fromAddress() {
    var given = new URLSearchParams(window.location.search);
    ["by", "period"].concat(FILTERS).forEach(function (name) {
      if (given.has(name) && form.elements[name]) { form.elements[name].value = given.get(name); }
    });
  }

  function getJson(path, params) {
    return fetch(config.api + path + "?" + params.toString(), {credentials: "same-origin",
      headers: {Accept: "application/json"}}).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.detail || response.statusText); }
        return body;
      });
    });
  }

  function label(value) { return value === null || value === undefined ? NOT_GIVEN : String(value); }

  function bars(rows, title) {
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      data: {values: rows.map(function (r) { return {key: label(r.key), count: r.count}; })},
      mark: "bar", width: 360, height: {step: 18},
      encoding: {
        y: {field: "key", type: "nominal", sort: "-x", title: title},
        x: {field: "count", type: "quantitative", title: "seizures"},
        tooltip: [{field: "key", title: title}, {field: "count", title: "seizures"}]
      }
    };
  }

  function seriesSpec(series, by, period) {
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      data: {values: series.map(function (r) {
        return {period: r.period, key: label(r.key), count: r.count,
                quantity: r.quantity, unit: r.unit};
      })},
      mark: {type: "bar", tooltip: true}, width: "container", height: 240,
      encoding: {
        x: {field: "period", type: "ordinal", title: period + " starting"},
        y: {field: "count", type: "quantitative", aggregate: "sum", title: "seizures"},
        color: by === "commodity" ? Object.assign({}, commodityColour, {field: "key"})
                                  : {field: "key", type: "nominal", title: by.replace("_", " ")},
        tooltip: [{field: "period"}, {field: "key", title: by}, {field: "count"},
                  {field: "quantity"}, {field: "unit"}]
      }
    };
  }

  function mapSpec(points) {
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: 420, height: 320, projection: {type: "mercator"},
      layer: [
        {data: {values: config.border.features}, mark: {type: "geoshape", filled: false,
          stroke: "#555", strokeWidth: 1}},
        {data: {values: points}, mark: {type: "circle", size: 40, opacity: 0.8},
         encoding: {longitude: {field: "lon", type: "quantitative"},
                    latitude: {field: "lat", type: "quantitative"},
                    color: commodityColour,
                    tooltip: [{field: "seizure_id"}, {field: "ts"}, {field: "commodity"},
                              {field: "transport_mode"}, {field: "crossing"}]}}
      ]
    };
  }

  function routes(rows) {
    return rows.map(function (r) {
      return {key: label(r.origin) + " → " + label(r.destination), count: r.count};
    });
  }

  function qualityTable(report) {
    var holder = document.getElementById("quality");
    holder.textContent = "";
    var table = document.createElement("table");
    var head = table.insertRow();
    var columns = ["source", "week", "submitted", "quarantined", "completeness",
                   "median delay (days)"];
    columns.forEach(function (c) {
      var th = document.createElement("th"); th.textContent = c; head.appendChild(th);
    });
    report.weeks.forEach(function (w) {
      var row = table.insertRow();
      [w.source, w.week, w.submitted, w.quarantined,
       w.completeness === null ? "" : (100 * w.completeness).toFixed(0) + " %",
       w.median_delay_days === null ? "" : w.median_delay_days.toFixed(1)
      ].forEach(function (v) { row.insertCell().textContent = String(v); });
    });
    holder.appendChild(table);
  }

  var drawing = 0;
  function draw() {
    var mine = ++drawing;
    var by = form.elements.by.value, period = form.elements.period.value;
    var params = filters();
    var address = new URLSearchParams(params);
    address.set("by", by); address.set("period", period);
    window.history.replaceState(null, "", "?" + address.toString());
    var trendParams = new URLSearchParams(params);
    trendParams.set("by", by); trendParams.set("period", period);
    status.textContent = "loading…";
    status.className = "";
    Promise.all([getJson("/seizures/trends", trendParams), getJson("/seizures/summary", params)])
      .then(function (answers) {
        if (mine !== drawing) { return null; }
        var trends = answers[0], summary = answers[1];
        status.textContent = summary.seizures + " seizures";
        return Promise.all([
          vegaEmbed("#chart-series", seriesSpec(trends.series, by, period), EMBED),
          vegaEmbed("#chart-transport", bars(summary.breakdowns.transport_mode, "transport"), EMBED),
          vegaEmbed("#chart-concealment", bars(summary.breakdowns.concealment, "concealment"),
                    EMBED),
          vegaEmbed("#chart-routes", bars(routes(summary.routes), "route"), EMBED),
          vegaEmbed("#chart-map", mapSpec(summary.points), EMBED)
        ]);
      })
      .then(function () {
        if (mine === drawing) { document.body.dataset.drawn = String(mine); }
      })
      .catch(function (error) {
        status.textContent = error.message;
        status.className = "error";
      });
    getJson("/quality", new URLSearchParams()).then(qualityTable).catch(function () {
      document.getElementById("quality").textContent = "no quality report";
    });
  }

  fromAddress();
  form.addEventListener("change", draw);
  form.addEventListener("submit", function (event) { event.preventDefault(); draw(); });
  draw();
}());
