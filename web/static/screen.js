// Live entry screen: server-sent events trigger a re-render of the live panel by the server.
// A denial beeps (WebAudio, no sound file); the mute choice is kept in localStorage.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var conn = document.getElementById("conn");
  var muteButton = document.getElementById("mute");
  var clock = document.getElementById("clock");
  var MUTE_KEY = "checkpoint.muted";
  var audio = null;
  var fetching = false, dirty = false;
  window.checkpointBeeps = 0;

  function muted() { return window.localStorage.getItem(MUTE_KEY) === "1"; }
  function showMute() {
    if (!muteButton) { return; }
    muteButton.textContent = muted() ? muteButton.dataset.off : muteButton.dataset.on;
    muteButton.setAttribute("aria-pressed", muted() ? "true" : "false");
  }
  function ensureAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { audio = new Context(); }
    if (audio && audio.state === "suspended") { audio.resume(); }
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
      window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
      showMute();
      ensureAudio();  // a click lets the browser start audio
    });
    showMute();
  }
  document.addEventListener("click", function () { if (!muted()) { ensureAudio(); } }, { once: true });

  function refresh() {
    if (fetching) { dirty = true; return; }
    fetching = true;
    dirty = false;
    fetch(live.dataset.liveUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) { live.innerHTML = html; live.dataset.refreshed = String(Date.now()); trimRows(); })
      .catch(function () { /* the next event or timer tries again */ })
      .then(function () { fetching = false; if (dirty) { refresh(); } });
  }

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
  window.addEventListener("resize", trimRows);

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
    var source = new EventSource(live.dataset.eventsUrl);
    source.addEventListener("open", function () { retryMs = RETRY_FIRST_MS; setConn(true); refresh(); });
    source.addEventListener("error", function () {
      setConn(false);
      if (source.readyState !== EventSource.CLOSED || retryTimer !== null) { return; }
      var delay = retryMs * (0.5 + Math.random() * 0.5);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      window.checkpointStreamRetries += 1;
      retryTimer = window.setTimeout(connect, delay);
    });
    source.addEventListener("entry", function (event) {
      var data = JSON.parse(event.data);
      if (data.outcome === "denied" && !data.replay) { beep(); }
      refresh();
    });
    ["override", "exit", "status"].forEach(function (kind) { source.addEventListener(kind, refresh); });
  }
  connect();
  window.setInterval(refresh, 5000);  // ages in the health panel, a gate going silent; also while refused

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
