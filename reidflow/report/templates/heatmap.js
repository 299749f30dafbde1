// The similarity heatmap: draws #heatmap-data on the canvas and shows the hovered cell in #tip.
(function () {
  "use strict";
  var canvas = document.getElementById("heatmap");
  var source = document.getElementById("heatmap-data");
  var tip = document.getElementById("tip");
  if (!canvas || !source || !tip) return;
  var data = JSON.parse(source.textContent);
  var n = data.ids.length, c = data.cell;
  var margin = data.labels ? 34 : 0, off = margin + 8, side = off + n * c + 2;
  var together = {};
  data.together.forEach(function (t) { together[t[0] * n + t[1]] = t[2]; together[t[1] * n + t[0]] = t[2]; });

  // same scale as reidflow.report.heatmap.colour
  function colour(v) {
    var lo = data.scale[0], hi = data.scale[1], p = data.palette;
    var t = (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo);
    for (var k = 1; k < p.length; k++) {
      if (t <= p[k][0]) {
        var f = (t - p[k - 1][0]) / (p[k][0] - p[k - 1][0]), a = p[k - 1][1], b = p[k][1];
        return "rgb(" + [0, 1, 2].map(function (i) { return Math.floor(a[i] + (b[i] - a[i]) * f + 0.5); }).join(",") + ")";
      }
    }
    var last = p[p.length - 1][1];
    return "rgb(" + last.join(",") + ")";
  }

  var dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * dpr);
  canvas.height = Math.round(side * dpr);
  canvas.style.width = side + "px";
  canvas.style.height = side + "px";
  var ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, side, side);
  ctx.font = "9px sans-serif";
  for (var i = 0; i < n; i++) {
    ctx.fillStyle = "hsl(" + data.hues[i] + ",60%,45%)";  // identity bands
    ctx.fillRect(margin + 1, off + i * c, 5, c);
    ctx.fillRect(off + i * c, margin + 1, c, 5);
    if (data.labels) {
      ctx.fillStyle = "#5b6575";
      ctx.textAlign = "right";
      ctx.fillText(String(data.ids[i]), margin - 2, off + i * c + c / 2 + 3);
      ctx.save();
      ctx.translate(off + i * c + c / 2 + 3, margin - 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.fillText(String(data.ids[i]), 0, 0);
      ctx.restore();
    }
  }
  var drawn = 0;
  for (var r = 0; r < n; r++) {
    for (var col = 0; col < n; col++) {
      ctx.fillStyle = colour(data.values[r * n + col]);
      ctx.fillRect(off + col * c, off + r * c, c, c);
      drawn++;
    }
  }
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 1.5;
  data.blocks.forEach(function (b) { ctx.strokeRect(off + b[0] * c, off + b[0] * c, b[1] * c, b[1] * c); });
  canvas.dataset.cells = String(drawn);  // for the browser test
  canvas.dataset.offset = String(off);

  function hide() { tip.style.display = "none"; }
  canvas.addEventListener("mousemove", function (event) {
    var box = canvas.getBoundingClientRect();
    var x = event.clientX - box.left - canvas.clientLeft, y = event.clientY - box.top - canvas.clientTop;  // inside the border
    var col = Math.floor((x - off) / c), row = Math.floor((y - off) / c);
    if (row < 0 || col < 0 || row >= n || col >= n) return hide();
    var text = "track " + data.ids[row] + " (id " + data.identities[row] + ") \u00d7 track " + data.ids[col] +
      " (id " + data.identities[col] + "): " + data.values[row * n + col].toFixed(3);
    var both = together[row * n + col];
    if (both && row !== col) text += " \u00b7 together in " + both + " frames";
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = (event.clientX + 14) + "px";
    tip.style.top = (event.clientY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", hide);
})();
