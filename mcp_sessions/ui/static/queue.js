// Queue charts (uPlot): open tasks by state and finished per minute over the last hour,
// redrawn when the event feed says something changed (at most every 2 s). Open counts are
// exact; finished ones cover the last hour (mcp_sessions/sql/ui.sql).
(function () {
  var box = document.querySelector(".charts");
  if (!box) return;
  var src = box.dataset.src, depth = null, done = null, pending = false, last = 0;
  function opts(title, series, el) {
    return {width: Math.max(320, el.clientWidth || 560), height: 240, title: title,
            scales: {x: {time: true}}, series: [{}].concat(series), axes: [{}, {}]};
  }
  function draw() {
    fetch(src, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      var s = d.series, depthData = [s.t, s.waiting, s.held], doneData = [s.t, s.completed, s.failed];
      var now = document.getElementById("now");
      var open = ["pending", "claimed", "running"].map(function (k) { return k + " " + (d.now[k] || 0); });
      var ended = ["completed", "failed", "cancelled"].map(function (k) { return k + " " + (d.now["last_" + k] || 0); });
      now.textContent = open.join(" · ") + " — last hour: " + ended.join(" · ");
      if (!depth) {
        var a = document.getElementById("depth-chart"), b = document.getElementById("throughput-chart");
        depth = new uPlot(opts("", [{label: "waiting", stroke: "#d98e04", fill: "rgba(217,142,4,0.15)"},
                                     {label: "held", stroke: "#2f6fdd", fill: "rgba(47,111,221,0.15)"}], a), depthData, a);
        done = new uPlot(opts("", [{label: "completed", stroke: "#1a9c50"},
                                    {label: "failed", stroke: "#c0392b"}], b), doneData, b);
      } else { depth.setData(depthData); done.setData(doneData); }
    });
  }
  function soon() {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; last = Date.now(); draw(); }, Math.max(0, 2000 - (Date.now() - last)));
  }
  draw(); last = Date.now();
  var live = new EventSource(src.replace(/queue\/data$/, "live"));
  live.addEventListener("changed", soon);
})();
