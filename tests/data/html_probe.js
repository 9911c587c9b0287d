(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || "error"));
  }, true);
  var log = console.error;
  console.error = function () { errors.push(Array.prototype.join.call(arguments, " ")); log.apply(console, arguments); };
  window.addEventListener("load", function () {
    var charts = [];
    document.querySelectorAll("figure.chart").forEach(function (fig) {
      var axes = [];
      fig.querySelectorAll("svg [id]").forEach(function (el) {
        var m = /^(.*)-ax(\d+)$/.exec(el.id);
        if (!m) return;
        var box = el.getBoundingClientRect(), inside = 0, outside = 0, empty = 0;
        fig.querySelectorAll('[id^="' + el.id + '-mark"]').forEach(function (mark) {
          var r = mark.getBoundingClientRect();
          if (r.width <= 0 && r.height <= 0) { empty++; return; }
          var tol = 2;
          if (r.left >= box.left - tol && r.right <= box.right + tol && r.top >= box.top - tol && r.bottom <= box.bottom + tol) inside++;
          else outside++;
        });
        axes.push({id: el.id, width: box.width, height: box.height, left: box.left + window.scrollX,
                   top: box.top + window.scrollY, right: box.right + window.scrollX, bottom: box.bottom + window.scrollY,
                   inside: inside, outside: outside, empty: empty});
      });
      charts.push({id: fig.id, axes: axes});
    });
    var out = document.createElement("pre");
    out.id = "sizer-probe";
    out.textContent = JSON.stringify({errors: errors, charts: charts,
      resources: performance.getEntriesByType("resource").map(function (e) { return e.name; })});
    document.body.appendChild(out);
  });
})();
