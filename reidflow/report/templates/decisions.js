// A person decides in the page: merge, split, not a person, name, select. Decisions wait in localStorage
// (one list per results folder), are listed in the panel with undo, and are exported as the overrides file
// (config cluster.overrides): the decisions already in force (../../report/decisions.js, written by rule
// report_index) with these added, as the exact text of reidflow.overrides.dump_overrides. No server: the
// page stays a file. Text only: no name or id ever becomes markup.
(function () {
  "use strict";
  var conf = JSON.parse(document.getElementById("decisions-page").textContent);
  var panel = document.getElementById("decisions");
  if (!panel) return;
  var $ = function (id) { return document.getElementById(id); };
  var has = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
  var PEOPLE = "people";
  var STORE = "reidflow.decisions " + new URL(conf.results, location.href).href;
  var state = { path: null, videos: [], video_overrides: [], people: { merge: [], split: [], names: [], select: [] } };
  var pending = [];
  var unknown = false; // no decisions.js: the decisions in force are unknown, an export holds only the page's
  var armed = null; // the first side of a merge chosen on a card: {target, scope, side, label}
  var naming = null; // the card being named

  // ---- the canonical YAML text (reidflow.overrides.dump_overrides, byte for byte) ----
  var ESCAPES = { "\0": "0", "\x07": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
    "\x1b": "e", "\"": "\"", "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P" };
  function hex(code, digits) {
    var text = code.toString(16).toUpperCase();
    while (text.length < digits) text = "0" + text;
    return text;
  }
  function quote(text) {
    var out = "\"";
    for (var ch of String(text)) { // by code point, as Python
      var c = ch.codePointAt(0);
      if (has(ESCAPES, ch)) out += "\\" + ESCAPES[ch];
      else if ((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff)) out += ch;
      else if (c <= 0xff) out += "\\x" + hex(c, 2);
      else if (c <= 0xffff) out += "\\u" + hex(c, 4);
      else out += "\\U" + hex(c, 8);
    }
    return out + "\"";
  }
  // PyYAML writes a key of 123 characters or more, or one with a line break, as an explicit "? key"
  function simpleKey(text) {
    return Array.from(String(text)).length < 123 && !/[\n\x85\u2028\u2029]/.test(text);
  }
  function flow(items) {
    return "[" + items.map(function (i) { return typeof i === "number" ? String(i) : quote(i); }).join(", ") + "]";
  }
  // a mapping as [key, value] pairs; a value is a string, a flow list ({flow: [...]}), a block list of
  // pairs ({pairs: [[a, b], ...]}) or a mapping (an array of pairs)
  function emit(entries, indent) {
    var pad = " ".repeat(indent), lines = [];
    entries.forEach(function (entry) {
      var key = quote(entry[0]), value = entry[1], simple = simpleKey(entry[0]);
      if (Array.isArray(value)) {
        var inner = emit(value, indent + 2);
        if (simple) lines.push(pad + key + ":");
        else lines.push(pad + "? " + key, pad + ": " + inner.shift().slice(indent + 2));
        lines.push.apply(lines, inner);
      } else if (value.pairs) {
        lines.push(pad + key + ":");
        value.pairs.forEach(function (p) { lines.push(pad + "- " + flow(p)); });
      } else if (value.flow) {
        lines.push(pad + key + ": " + flow(value.flow));
      } else if (simple) {
        lines.push(pad + key + ": " + quote(value));
      } else {
        lines.push(pad + "? " + key, pad + ": " + quote(value));
      }
    });
    return lines;
  }
  // videos: [[video, {merge, split, ignore}], ...] in file order; people: {merge, split, names: [[key,
  // name], ...], select}: the arguments of dump_overrides
  function dump(videos, people) {
    var doc = [];
    videos.forEach(function (pair) {
      var o = pair[1], entry = [];
      if (o.merge && o.merge.length) entry.push(["merge", { pairs: o.merge }]);
      if (o.split && o.split.length) entry.push(["split", { pairs: o.split }]);
      var ignore = (o.ignore || []).slice().sort(function (a, b) { return a - b; })
        .filter(function (t, i, all) { return i === 0 || all[i - 1] !== t; });
      if (ignore.length) entry.push(["ignore", { flow: ignore }]);
      if (entry.length) doc.push([pair[0], entry]);
    });
    people = people || {};
    var entry = [];
    if (people.merge && people.merge.length) entry.push(["merge", { pairs: people.merge }]);
    if (people.split && people.split.length) entry.push(["split", { pairs: people.split }]);
    if (people.names && people.names.length) entry.push(["names", people.names.map(function (n) { return [n[0], n[1]]; })]);
    if (people.select && people.select.length) entry.push(["select", { flow: people.select }]);
    if (entry.length) doc.push([PEOPLE, entry]);
    return doc.length ? emit(doc, 0).join("\n") + "\n" : "";
  }

  // ---- decisions: in force (decisions.js) and pending (this browser) ----
  function samePair(p, q) { return (p[0] === q[0] && p[1] === q[1]) || (p[0] === q[1] && p[1] === q[0]); }
  function forceOf(video) {
    for (var i = 0; i < state.video_overrides.length; i++) {
      if (state.video_overrides[i][0] === video) return state.video_overrides[i][1];
    }
    return { merge: [], split: [], ignore: [] };
  }
  // every decision of one kind, in force first: pairs of a scope (a video or "people"), ignored tracks, ...
  function pairsOf(op, scope, withPending) {
    var out = (scope === PEOPLE ? state.people[op] : forceOf(scope)[op]) || [];
    out = out.slice();
    if (withPending !== false) pending.forEach(function (d) {
      if (d.op === op && d.scope === scope) d.pairs.forEach(function (p) { out.push(p); });
    });
    return out;
  }
  function ignoredOf(video) {
    var out = (forceOf(video).ignore || []).slice();
    pending.forEach(function (d) { if (d.op === "ignore" && d.scope === video) out.push.apply(out, d.tracks); });
    return out;
  }
  function keyTrack(key) { // "<video>:track:<id>" -> [video, id], else null
    var m = /^([^:]+):track:(-?\d+)$/.exec(key);
    return m ? [m[1], Number(m[2])] : null;
  }
  function peopleKeys() {
    var keys = [];
    ["merge", "split"].forEach(function (op) { pairsOf(op, PEOPLE).forEach(function (p) { keys.push(p[0], p[1]); }); });
    state.people.names.forEach(function (n) { keys.push(n[0]); });
    state.people.select.forEach(function (k) { keys.push(k); });
    pending.forEach(function (d) { if (d.key) keys.push(d.key); });
    return keys;
  }
  function merged() { // the whole file: in force, then pending, without repeats
    var videos = [];
    state.videos.forEach(function (video) {
      var entry = {};
      ["merge", "split"].forEach(function (op) {
        entry[op] = [];
        pairsOf(op, video).forEach(function (p) {
          if (!entry[op].some(function (q) { return samePair(p, q); })) entry[op].push(p);
        });
      });
      entry.ignore = ignoredOf(video);
      videos.push([video, entry]);
    });
    var people = { merge: [], split: [], names: state.people.names.map(function (n) { return n.slice(); }),
      select: state.people.select.slice() };
    ["merge", "split"].forEach(function (op) {
      pairsOf(op, PEOPLE).forEach(function (p) {
        if (!people[op].some(function (q) { return samePair(p, q); })) people[op].push(p);
      });
    });
    pending.forEach(function (d) {
      if (d.op === "name") {
        var at = people.names.findIndex(function (n) { return n[0] === d.key; });
        if (at >= 0) people.names[at][1] = d.name; else people.names.push([d.key, d.name]);
      } else if (d.op === "select" && people.select.indexOf(d.key) < 0) {
        people.select.push(d.key);
      }
    });
    return { videos: videos, people: people };
  }
  function exportText() { var m = merged(); return dump(m.videos, m.people); }

  // is a pending decision already in force (the file was exported and the workflow rerun)?
  function inForce(d) {
    if (d.op === "merge" || d.op === "split") {
      var known = pairsOf(d.op, d.scope, false);
      return d.pairs.every(function (p) { return known.some(function (q) { return samePair(p, q); }); });
    }
    if (d.op === "ignore") {
      var ignored = forceOf(d.scope).ignore || [];
      return d.tracks.every(function (t) { return ignored.indexOf(t) >= 0; });
    }
    if (d.op === "name") return state.people.names.some(function (n) { return n[0] === d.key && n[1] === d.name; });
    if (d.op === "select") return state.people.select.indexOf(d.key) >= 0;
    return false;
  }

  function load() {
    try {
      var data = JSON.parse(localStorage.getItem(STORE) || "[]");
      pending = Array.isArray(data) ? data : [];
      return true;
    } catch (err) {
      pending = [];
      return false;
    }
  }
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(pending)); } catch (err) {
      say("This browser keeps no decisions for files (localStorage): export them before closing the page.");
    }
  }
  function say(text, bad) {
    var line = $("decisions-message");
    line.textContent = text;
    line.classList.toggle("warning", !!bad);
  }

  // ---- adding decisions, each checked against what is decided already ----
  function add(d) {
    var problem = check(d);
    if (problem) { say(problem, true); return false; }
    pending.push(d);
    save();
    render();
    say("Pending: " + describe(d) + ". Export when done (u: undo).");
    return true;
  }
  function check(d) {
    if (d.op === "merge" || d.op === "split") {
      var other = d.op === "merge" ? "split" : "merge";
      for (var i = 0; i < d.pairs.length; i++) {
        var p = d.pairs[i];
        if (pairsOf(d.op, d.scope).some(function (q) { return samePair(p, q); })) return "Already decided: " + describe(d) + ".";
        if (pairsOf(other, d.scope).some(function (q) { return samePair(p, q); })) {
          return "Refused: " + pairText(d.scope, p) + " are already to " + other + " (undo that first).";
        }
        if (d.op === "merge" && d.scope !== PEOPLE) {
          var ignored = ignoredOf(d.scope), t = p.filter(function (x) { return ignored.indexOf(x) >= 0; });
          if (t.length) return "Refused: track " + t[0] + " is not a person (ignored); a track cannot be both.";
        }
        if (d.scope === PEOPLE) {
          var bad = p.filter(ignoredKey);
          if (bad.length) return "Refused: " + bad[0] + " is a track marked not a person.";
        }
      }
      if (d.op === "merge" && d.together) {
        return "Refused: " + pairText(d.scope, d.pairs[0]) + " (or their identities) are seen in the same frame at different " +
          "places: they cannot be one person.";
      }
    } else if (d.op === "ignore") {
      var merges = pairsOf("merge", d.scope), used = peopleKeys();
      for (var j = 0; j < d.tracks.length; j++) {
        var t = d.tracks[j];
        if (merges.some(function (q) { return q.indexOf(t) >= 0; })) return "Refused: track " + t + " is in a merge: a track cannot be both.";
        var key = d.scope + ":track:" + t;
        if (used.indexOf(key) >= 0) return "Refused: " + key + " names a person (merge, name or select): undo that first.";
      }
      if (d.tracks.every(function (x) { return ignoredOf(d.scope).indexOf(x) >= 0; })) return "Already decided: " + describe(d) + ".";
    } else if (d.op === "name") {
      if (!d.name) return "A name needs at least one character.";
      if (Array.from(d.name).length > 100) return "A name has at most 100 characters.";
      if (ignoredKey(d.key)) return "Refused: " + d.key + " is a track marked not a person.";
      if (inForce(d) || pending.some(function (e) { return e.op === "name" && e.key === d.key && e.name === d.name; })) {
        return "Already decided: " + describe(d) + ".";
      }
    } else if (d.op === "select") {
      if (ignoredKey(d.key)) return "Refused: " + d.key + " is a track marked not a person.";
      if (inForce(d) || pending.some(function (e) { return e.op === "select" && e.key === d.key; })) return "Already selected: " + d.key + ".";
    }
    return null;
  }
  function ignoredKey(key) {
    var kt = keyTrack(key);
    return !!kt && ignoredOf(kt[0]).indexOf(kt[1]) >= 0;
  }
  function pairText(scope, p) { return scope === PEOPLE ? p.join(" and ") : "tracks " + p.join(" and ") + " of " + scope; }
  function describe(d) {
    if (d.op === "merge" || d.op === "split") {
      return (d.op === "merge" ? "merge " : "split ") + (d.label || d.pairs.map(function (p) { return pairText(d.scope, p); }).join("; "));
    }
    if (d.op === "ignore") return "not a person: " + (d.tracks.length > 1 ? "tracks " : "track ") + d.tracks.join(", ") + " of " + d.scope;
    if (d.op === "name") return "name " + d.key + " \u201c" + d.name + "\u201d";
    return "select " + d.key;
  }

  // ---- the panel and the marks on the cards ----
  function render() {
    var list = $("decisions-list");
    list.textContent = "";
    pending.forEach(function (d, i) {
      var item = document.createElement("li"), undo = document.createElement("button");
      item.textContent = describe(d) + " ";
      undo.type = "button";
      undo.textContent = "undo";
      undo.setAttribute("data-undo", String(i));
      item.appendChild(undo);
      list.appendChild(item);
    });
    $("decisions-count").textContent = pending.length ? "(" + pending.length + " pending)" : "(none pending)";
    $("decisions-export").disabled = false;
    marks();
  }
  function marks() { // what is pending for each card, as text on it
    var names = {}, selected = {}, ignored = {};
    pending.forEach(function (d) {
      if (d.op === "name") names[d.key] = d.name;
      if (d.op === "select") selected[d.key] = true;
      if (d.op === "ignore") d.tracks.forEach(function (t) { ignored[d.scope + ":" + t] = true; });
    });
    document.querySelectorAll("[data-decide]").forEach(function (card) {
      var mark = card.querySelector(".decided");
      if (!mark || mark.closest("[data-decide]") !== card) return;
      var bits = [], key = card.getAttribute("data-decide") === "identity" ? identityKey(card) : card.getAttribute("data-key");
      if (key && has(names, key)) bits.push("name \u201c" + names[key] + "\u201d");
      if (key && selected[key]) bits.push("selected");
      var tracks = (card.getAttribute("data-tracks") || "").split(" ").filter(Boolean);
      var video = card.getAttribute("data-video") || conf.video;
      if (tracks.length && tracks.every(function (t) { return ignored[video + ":" + t]; })) bits.push("not a person");
      mark.textContent = bits.length ? "pending: " + bits.join(" · ") : "";
      card.classList.toggle("armed", !!armed && armed.target === card);
    });
  }

  // the track that names an identity on this page: its first track that stays with it
  function identityKey(card) {
    var video = conf.video, ignored = ignoredOf(video), out = {};
    pending.forEach(function (d) { if (d.op === "split" && d.scope === video && d.out !== undefined) out[d.out] = true; });
    var tracks = card.getAttribute("data-tracks").split(" ").map(Number);
    var keep = tracks.filter(function (t) { return ignored.indexOf(t) < 0 && !out[t]; });
    return video + ":track:" + (keep.length ? keep[0] : tracks[0]);
  }
  function keyOf(card) {
    if (card.getAttribute("data-decide") === "identity") {
      var key = identityKey(card);
      card.setAttribute("data-key", key);
      return key;
    }
    return card.getAttribute("data-key");
  }
  function labelOf(card) { return card.getAttribute("data-label") || keyOf(card); }

  function act(card, action, button) {
    var kind = card.getAttribute("data-decide"), video = card.getAttribute("data-video") || conf.video;
    if (action === "merge" && kind === "rec") {
      var pair = [card.getAttribute("data-a"), card.getAttribute("data-b")];
      var scope = conf.page === "video" ? video : PEOPLE;
      if (scope !== PEOPLE) pair = pair.map(Number);
      add({ op: "merge", scope: scope, pairs: [pair], together: Number(card.getAttribute("data-together") || 0) });
    } else if (action === "split" && kind === "rec") {
      var two = [card.getAttribute("data-a"), card.getAttribute("data-b")];
      var where = conf.page === "video" ? video : PEOPLE;
      add({ op: "split", scope: where, pairs: [where === PEOPLE ? two : two.map(Number)] });
    } else if (action === "merge") { // two cards: the first arms, the second merges
      if (armed && armed.target === card) { armed = null; say("Merge cancelled."); marks(); return; }
      var side = conf.page === "video" ? Number(keyOf(card).split(":")[2]) : keyOf(card);
      if (!armed) {
        armed = { target: card, side: side, label: card.getAttribute("data-label") };
        say("Merge: now choose Merge on the other " + (conf.page === "video" ? "identity" : "person") + " (Esc cancels).");
        marks();
        return;
      }
      var first = armed;
      armed = null;
      add({ op: "merge", scope: conf.page === "video" ? conf.video : PEOPLE, pairs: [[first.side, side]],
        label: first.label + " with " + card.getAttribute("data-label") + " (" + pairText(conf.page === "video" ? conf.video : PEOPLE, [first.side, side]) + ")" });
    } else if (action === "split" && kind === "track") { // this track out of its identity
      var t = Number(card.getAttribute("data-track"));
      var others = card.closest("[data-decide=identity]").getAttribute("data-tracks").split(" ").map(Number)
        .filter(function (x) { return x !== t; });
      if (!others.length) { say("Track " + t + " is alone in its identity already.", true); return; }
      add({ op: "split", scope: video, out: t, pairs: others.map(function (x) { return [t, x]; }),
        label: "track " + t + " out of its identity (apart from " + others.join(", ") + ")" });
    } else if (action === "ignore") {
      var tracks = (card.getAttribute("data-tracks") || card.getAttribute("data-track")).split(" ").map(Number);
      add({ op: "ignore", scope: video, tracks: tracks });
    } else if (action === "select") {
      add({ op: "select", key: keyOf(card) });
    } else if (action === "name") {
      naming = card;
      var form = $("decisions-name");
      form.hidden = false;
      $("decisions-name-label").textContent = "Name for " + labelOf(card) + " (" + keyOf(card) + ")";
      var input = $("decisions-name-input");
      input.value = "";
      input.focus();
    }
  }

  function undo(index) {
    if (!pending.length) { say("Nothing to undo."); return; }
    var d = pending.splice(index === undefined ? pending.length - 1 : index, 1)[0];
    save();
    render();
    say("Undone: " + describe(d) + ".");
  }

  function download() {
    var text = exportText(), name = (state.path || "overrides.yaml").split("/").pop();
    // never a file that would replace the one in force with less than it holds
    if (unknown) name = name.replace(/(\.ya?ml)?$/, ".new.yaml");
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/x-yaml" }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    $("decisions-preview").textContent = text || "(no decisions: an empty file)";
    say("Exported " + name + ": " + pending.length + " pending decision(s) with those in force. " + applyText());
  }
  function applyText() {
    if (unknown) {
      return "The decisions in force are unknown here (results/report/decisions.js is written by a successful " +
        "run of snakemake): the export holds only this page's decisions; add them to your overrides file by hand.";
    }
    return state.path
      ? "Save it as " + state.path + " (config cluster.overrides; it holds every decision in force too) and run snakemake."
      : "Save it, e.g. as config/overrides.yaml, set cluster.overrides: config/overrides.yaml in config/config.yaml and run snakemake.";
  }

  function start() {
    var data = window.REIDFLOW_OVERRIDES;
    if (data && typeof data === "object") state = data;
    else unknown = true;
    if (unknown) say("The decisions in force are unknown (results/report/decisions.js is missing: run snakemake); an export holds only this page's.", true);
    var stored = load();
    var before = pending.length;
    pending = pending.filter(function (d) { return !inForce(d); });
    if (pending.length !== before) { save(); say((before - pending.length) + " decision(s) are in force now: removed from the pending list."); }
    if (!stored) say("This browser keeps no decisions for files (localStorage): export them before closing the page.", true);
    $("decisions-apply").textContent = applyText() + (unknown ? "" : " It reruns only what the decisions change: " +
      "the videos concerned (cluster, identities, report), people and the page across videos.");
    $("decisions-in-force").textContent = "In force now (" + (state.path || "no overrides file") + "): " +
      state.video_overrides.length + " video(s) with decisions, " + state.people.names.length + " name(s), " + state.people.select.length + " selected.";
    document.querySelectorAll(".decide").forEach(function (el) { el.hidden = false; });
    panel.hidden = false;
    render();
  }

  panel.addEventListener("click", function (event) {
    var b = event.target.closest("button");
    if (!b) return;
    if (b.hasAttribute("data-undo")) undo(Number(b.getAttribute("data-undo")));
    else if (b.id === "decisions-undo") undo();
    else if (b.id === "decisions-export") download();
    else if (b.id === "decisions-discard") {
      if (b.getAttribute("data-sure") !== "1") { b.setAttribute("data-sure", "1"); b.textContent = "Discard all: sure?"; return; }
      pending = []; save(); render(); say("Every pending decision discarded.");
    } else if (b.id === "decisions-name-cancel") { $("decisions-name").hidden = true; naming = null; }
    if (b.id !== "decisions-discard") { $("decisions-discard").removeAttribute("data-sure"); $("decisions-discard").textContent = "Discard all"; }
  });
  $("decisions-name").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!naming) return;
    var name = $("decisions-name-input").value.trim(), card = naming;
    if (add({ op: "name", key: keyOf(card), name: name })) {
      $("decisions-name").hidden = true;
      naming = null;
      card.focus();
    }
  });
  document.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-act]");
    if (!b) return;
    var card = b.closest("[data-decide]");
    if (card) act(card, b.getAttribute("data-act"), b);
  });
  var KEYS = { m: "merge", s: "split", n: "name", x: "ignore", "*": "select" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = event.target.closest && event.target.closest("input, textarea, select");
    if (event.key === "Escape") {
      if (naming) { $("decisions-name").hidden = true; naming.focus(); naming = null; }
      if (armed) { armed = null; say("Merge cancelled."); marks(); }
      return;
    }
    if (typing) return;
    if (event.key === "u") { undo(); event.preventDefault(); return; }
    var action = KEYS[event.key], card = document.activeElement && document.activeElement.closest("[data-decide]");
    if (!action || !card) return;
    var button = Array.prototype.find.call(card.querySelectorAll("button[data-act='" + action + "']"), function (b) {
      return b.closest("[data-decide]") === card;
    });
    if (button) { event.preventDefault(); button.click(); }
  });
  window.addEventListener("storage", function (event) { // another page of the same results changed them
    if (event.key === STORE) { load(); render(); }
  });
  // for tests and the curious: the same text as reidflow.overrides.dump_overrides
  window.reidflowDecisions = { dump: dump, exportText: exportText, pending: function () { return pending.slice(); } };

  function fetchInForce() {
    var script = document.createElement("script");
    script.src = conf.script;
    script.onload = start;
    script.onerror = start;
    document.head.appendChild(script);
  }
  if (conf.page === "video") { // people.js and decisions.js come from the same job (rule report_index)
    document.addEventListener("reidflow-people", function (event) {
      if (event.detail) fetchInForce(); else start();
    }, { once: true });
  } else {
    fetchInForce();
  }
})();
