// Person ids across videos: ../../report/people.js (rule report_index writes it from people.json) maps
// "<video>:<identity>" to its person. Loaded when the page opens, so that this page never depends on
// people.json: adding a video rebuilds no other video's page. Text only: no data becomes markup.
(function () {
  "use strict";
  var status = document.getElementById("people-status");
  if (!status) return;
  var video = status.getAttribute("data-video");
  var badges = Array.prototype.slice.call(document.querySelectorAll(".person-badge"));
  var script = document.createElement("script");
  script.src = "../../report/people.js";
  // the decisions panel (decisions.js) loads decisions.js, written with people.js, only once this is here:
  // a page opened before rule report_index ran then logs one missing file, not two
  function tell(loaded) { document.dispatchEvent(new CustomEvent("reidflow-people", { detail: loaded })); }
  script.onerror = function () {
    tell(false);
    status.textContent = "Person ids across videos: not available yet (results/report/people.js is written after " +
      "rule people, by rule report_index: run snakemake).";
  };
  script.onload = function () {
    tell(true);
    var known = window.REIDFLOW_PEOPLE;
    if (!known || typeof known !== "object") {
      status.textContent = "Person ids across videos: results/report/people.js holds none; rerun snakemake.";
      return;
    }
    var shown = 0, stale = 0, absent = 0, people = {};
    badges.forEach(function (badge) {
      var key = badge.getAttribute("data-key");
      var entry = Object.prototype.hasOwnProperty.call(known, key) ? known[key] : null;
      if (!entry) { absent++; return; }
      badge.hidden = false;
      if (entry.tracks.join(" ") !== badge.getAttribute("data-tracks")) {
        // people.json was made from other identities of this video: its person id would be wrong
        stale++;
        badge.classList.add("stale");
        badge.textContent = "person ?";
        badge.title = "this identity's tracks changed since results/people/people.json: rerun snakemake";
        return;
      }
      var id = Number(entry.person);
      var others = entry.videos.filter(function (v) { return v !== video; });
      shown++;
      people[id] = true;
      badge.href = "../../report/index.html#person-" + id;
      badge.textContent = "Person " + id + (entry.name ? " (" + entry.name + ")" : "") +
        (others.length ? " · " + entry.videos.length + " videos" : "");
      badge.title = others.length ? "also in " + others.join(", ") : "seen in this video only";
      if (others.length) badge.classList.add("several");
    });
    var text = "Person ids across videos (results/people/people.json): " + shown + " identities of " +
      Object.keys(people).length + " people; a badge opens the person's card on the page of all videos.";
    if (stale) text += " " + stale + " out of date (this video changed since): rerun snakemake.";
    if (absent) text += " " + absent + " not in people.json yet (made before this video changed): rerun snakemake.";
    status.textContent = text;
    status.classList.toggle("warning", stale + absent > 0);
  };
  document.head.appendChild(script);
})();
