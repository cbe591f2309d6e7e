// Live entry screen: server-sent events trigger a re-render of the live panel by the server.
// A denial beeps (WebAudio, no sound file); the mute choice is kept in localStorage.
// The screen never shows what it cannot vouch for: a decision goes back to "waiting" after show_s (the server
// says how long in data-remaining-ms), and when the screen hears nothing from the server (no tick or event on
// the stream for 4.5 s, the stream down for 1.5 s, or no fresh panel for 12 s) the whole card turns grey
// "connection lost" and the health panel says how old it is, until a fresh panel arrives.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var LOST_SILENCE_MS = 4500, LOST_STREAM_MS = 1500, LOST_PANEL_MS = 12000, FETCH_TIMEOUT_MS = 4000;
  var lastContact = Date.now(), lastPanel = Date.now(), streamDownSince = Date.now(), lostAt = null;
  var cardTimer = null, source = null;
  window.checkpointLost = false;
  var conn = document.getElementById("conn");
  var muteButton = document.getElementById("mute");
  var clock = document.getElementById("clock");
  var MUTE_KEY = "checkpoint.muted";
  var audio = null;
  var fetching = false, dirty = false;
  window.checkpointBeeps = 0;

  function muted() { return window.localStorage.getItem(MUTE_KEY) === "1"; }
  // The browser may refuse sound until someone touches the page (its autoplay rule): then the button says
  // so ("sound blocked — tap to enable") instead of "Sound: on", and a tap on it enables the sound.
  var BLOCKED_AFTER_MS = 700, loadedAt = Date.now();  // a new context may take a moment to start running
  function blocked() {
    return !muted() && audio !== null && audio.state !== "running" && Date.now() - loadedAt >= BLOCKED_AFTER_MS;
  }
  function showMute() {
    if (!muteButton) { return; }
    muteButton.textContent = muted() ? muteButton.dataset.off : (blocked() ? muteButton.dataset.blocked : muteButton.dataset.on);
    muteButton.classList.toggle("blocked", blocked());
    muteButton.setAttribute("aria-pressed", muted() ? "true" : "false");
  }
  function ensureAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      audio = new Context();
      audio.addEventListener("statechange", showMute);
    }
    if (audio && audio.state === "suspended") {
      var resumed = audio.resume();
      if (resumed && resumed.then) { resumed.then(showMute, showMute); }
    }
    return audio;
  }
  function beep() {
    window.checkpointBeeps += 1;
    if (muted()) { return; }
    var ctx = ensureAudio();
    if (!ctx) { return; }
    [0, 0.25].forEach(function (offset) {
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      var start = ctx.currentTime + offset;
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    });
  }
  if (muteButton) {
    muteButton.addEventListener("click", function () {
      if (!blocked()) { window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1"); }
      ensureAudio();  // a click lets the browser start audio
      showMute();
    });
    if (!muted()) { ensureAudio(); }  // learn at once whether the browser lets the screen beep
    showMute();
    window.setTimeout(showMute, BLOCKED_AFTER_MS + 50);
  }
  document.addEventListener("click", function () { if (!muted()) { ensureAudio(); } }, { once: true });

  function refresh() {
    if (fetching) { dirty = true; return; }
    fetching = true;
    dirty = false;
    var started = Date.now();
    var abort = window.AbortController ? new AbortController() : null;
    var timeout = window.setTimeout(function () { if (abort) { abort.abort(); } }, FETCH_TIMEOUT_MS);
    fetch(live.dataset.liveUrl, { credentials: "same-origin", cache: "no-store", signal: abort ? abort.signal : undefined })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        lastPanel = started;
        live.dataset.refreshed = String(Date.now());
        trimRows();
        armCard();
        checkLive();
        fitCard();
      })
      .catch(function () { /* the next event or timer tries again; checkLive() greys a screen left stale */ })
      .then(function () { window.clearTimeout(timeout); fetching = false; if (dirty) { refresh(); } });
  }

  // The card: a decision shows for the time the server gave, then the waiting card (kept in a <template>).
  function armCard() {
    if (cardTimer !== null) { window.clearTimeout(cardTimer); cardTimer = null; }
    var card = document.getElementById("decision");
    if (!card || card.dataset.state !== "decision") { return; }
    var remaining = parseInt(card.dataset.remainingMs || "0", 10) || 0;
    cardTimer = window.setTimeout(function () { cardTimer = null; toWaiting(); refresh(); }, Math.max(remaining, 0));
  }
  function toWaiting() {
    var card = document.getElementById("decision"), waiting = document.getElementById("waiting-card");
    if (!card || !waiting || card.dataset.state !== "decision") { return; }
    card.className = "decision decision-idle";
    card.dataset.state = "waiting";
    card.dataset.uid = "";
    card.dataset.outcome = "";
    card.dataset.remainingMs = "0";
    card.innerHTML = waiting.innerHTML;
    fitCard();
  }

  // Shrink the card's text (the --fit factor in style.css) until nothing overflows its box.
  function fitCard() {
    var card = document.getElementById("decision");
    if (!card) { return; }
    var fit = 1;
    card.style.setProperty("--fit", "1");
    while (fit > 0.4 && (card.scrollHeight > card.clientHeight + 1 || card.scrollWidth > card.clientWidth + 1)) {
      fit -= 0.05;
      card.style.setProperty("--fit", fit.toFixed(2));
    }
  }

  function duration(ms, units) {
    var s = Math.max(Math.floor(ms / 1000), 0), parts = (units || "{n} s|{n} min|{n} h|{n} days").split("|");
    if (s < 60) { return parts[0].replace("{n}", s); }
    if (s < 3600) { return parts[1].replace("{n}", Math.floor(s / 60)); }
    if (s < 172800) { return parts[2].replace("{n}", Math.floor(s / 3600)); }
    return parts[3].replace("{n}", Math.floor(s / 86400));
  }

  // Connection lost: nothing from the stream for LOST_SILENCE_MS (it ticks every 2 s), the stream down for
  // LOST_STREAM_MS, or no fresh panel for LOST_PANEL_MS. It clears only with a panel fetched after it began.
  function checkLive() {
    var now = Date.now();
    var lost = (streamDownSince !== null && now - streamDownSince > LOST_STREAM_MS) ||
      now - lastContact > LOST_SILENCE_MS || now - lastPanel > LOST_PANEL_MS;
    if (lost && lostAt === null) { lostAt = now; }
    if (!lost && lostAt !== null && lastPanel < lostAt) { lost = true; refresh(); }
    if (!lost) { lostAt = null; }
    var changed = window.checkpointLost !== lost;
    window.checkpointLost = lost;
    live.classList.toggle("lost", lost);
    if (changed) { fitCard(); }
    var health = document.getElementById("health");
    if (health) { health.classList.toggle("stale", lost); }
    var note = live.querySelector(".stale-note");
    if (note) {
      note.textContent = lost ? (note.dataset.template || "").replace("{age}", duration(now - lastPanel, note.dataset.units)) : "";
    }
  }
  function contact() { lastContact = Date.now(); }

  // Show only the rows of the latest entries that fit whole in their box (no half-cut row at the bottom).
  function trimRows() {
    var box = live.querySelector(".recent");
    if (!box) { return; }
    var rows = box.querySelectorAll("tbody tr");
    rows.forEach(function (row) { row.classList.remove("beyond"); });
    var limit = box.getBoundingClientRect().bottom - 6;
    rows.forEach(function (row) { if (row.getBoundingClientRect().bottom > limit) { row.classList.add("beyond"); } });
  }
  trimRows();
  window.addEventListener("resize", function () { trimRows(); fitCard(); });

  function setConn(ok) {
    if (!conn) { return; }
    conn.textContent = ok ? conn.dataset.live : conn.dataset.offline;
    conn.className = ok ? "conn ok" : "conn offline";
  }

  // The EventSource reconnects by itself after a dropped connection, sending Last-Event-ID. A refused stream
  // (429/503 when too many screens are open, or any other error status) closes it for good: then a new one is
  // opened after a delay that doubles up to two minutes, with jitter, so refused screens do not retry in step.
  var RETRY_FIRST_MS = 5000, RETRY_MAX_MS = 120000;
  var retryMs = RETRY_FIRST_MS, retryTimer = null;
  window.checkpointStreamRetries = 0;
  function connect() {
    retryTimer = null;
    source = new EventSource(live.dataset.eventsUrl);
    var mine = source;
    source.addEventListener("open", function () {
      retryMs = RETRY_FIRST_MS; streamDownSince = null; contact(); setConn(true); refresh();
    });
    source.addEventListener("error", function () {
      setConn(false);
      if (streamDownSince === null) { streamDownSince = Date.now(); }
      if (mine.readyState !== EventSource.CLOSED || retryTimer !== null) { return; }
      var delay = retryMs * (0.5 + Math.random() * 0.5);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      window.checkpointStreamRetries += 1;
      retryTimer = window.setTimeout(connect, delay);
    });
    source.addEventListener("entry", function (event) {
      contact();
      var data = JSON.parse(event.data);
      if (data.outcome === "denied" && !data.replay) { beep(); }
      refresh();
    });
    ["override", "exit", "status"].forEach(function (kind) {
      source.addEventListener(kind, function () { contact(); refresh(); });
    });
    source.addEventListener("tick", contact);
  }
  connect();
  armCard();
  fitCard();
  window.setInterval(refresh, 5000);  // ages in the health panel, a gate going silent; also while refused
  window.setInterval(checkLive, 500);

  if (clock) {
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", { timeZone: clock.dataset.zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    } catch (e) { format = null; }
    if (format) { window.setInterval(function () { clock.textContent = format.format(new Date()); }, 1000); }
  }
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
})();
