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

  var source = new EventSource(live.dataset.eventsUrl);  // reconnects by itself, sending Last-Event-ID
  source.addEventListener("open", function () { setConn(true); refresh(); });
  source.addEventListener("error", function () { setConn(false); });
  source.addEventListener("entry", function (event) {
    var data = JSON.parse(event.data);
    if (data.outcome === "denied" && !data.replay) { beep(); }
    refresh();
  });
  ["override", "exit", "status"].forEach(function (kind) { source.addEventListener(kind, refresh); });
  window.setInterval(refresh, 5000);  // ages in the health panel, a gate going silent

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
