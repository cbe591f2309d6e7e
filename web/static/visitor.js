// The visitor screen. /visitor/events sends "visitor" (a decision to show), "gate" (closed and why, or open) and
// "tick" (at least every tick_s). A decision shows for show_s, then the screen waits again. "Gate closed" wins over
// everything while the gate is closed; when the stream has been down for 2 s or silent for three ticks the screen
// says so ("lost", also closed to the visitor) until the stream is back. A refused stream (429/503) or a dropped
// one is reopened after a doubling, jittered delay. Each state's spoken prompt is a recorded file under
// /static/voice/<language>/<key>.ogg (no network beyond this server); browsers that block sound until a tap show
// the sound button.
(function () {
  "use strict";
  var root = document.getElementById("visitor");
  if (!root) { return; }
  var config = JSON.parse(document.getElementById("visitor-config").textContent);
  var ids = ["title-id", "title-en", "text-id", "text-en"].map(function (id) { return document.getElementById(id); });
  var pictogram = document.getElementById("pictogram");
  var soundButton = document.getElementById("sound");
  var closedWhy = root.dataset.closed ? root.dataset.closed.split(",") : [];
  var decision = null, decisionTimer = null, source = null, reconnectTimer = null;
  var lastContact = Date.now(), downSince = Date.now(), lost = false, delayMs = 1000;
  var shown = null, queue = [], playing = null;
  window.visitorPrompts = [];  // the prompt files asked for (tests, and a kiosk's own check)

  function show(view) {
    var key = view.state + "|" + (view.reason || "") + "|" + view.text.id;
    root.className = "visitor " + view.state;
    root.dataset.state = view.state;
    root.dataset.reason = view.reason || "";
    ids[0].textContent = view.title.id;
    ids[1].textContent = view.title.en;
    ids[2].textContent = view.text.id || "";
    ids[3].textContent = view.text.en || "";
    pictogram.setAttribute("href", "#p-" + view.icon);
    fit();
    if (key !== shown && view.voice && view.state !== "waiting") { speak(view.voice); }
    shown = key;
  }
  function fit() {  // the longest words shrink a little (never below 0.8 of the design size) rather than scroll
    var steps = [1, 0.95, 0.9, 0.85, 0.8];
    for (var i = 0; i < steps.length; i += 1) {
      root.style.setProperty("--fit", String(steps[i]));
      if (root.scrollHeight <= root.clientHeight + 1 && root.scrollWidth <= root.clientWidth + 1) { return; }
    }
  }
  window.addEventListener("resize", fit);
  function settle() {
    if (lost) { show(config.states.lost); }
    else if (closedWhy.length) { show(config.states.closed); root.dataset.why = closedWhy.join(","); }
    else if (decision) { show(decision); }
    else { show(config.states.waiting); }
  }

  // -- spoken prompts ------------------------------------------------------------------------------------------
  function speak(key) {
    if (!config.voice) { return; }
    var languages = config.voice_language === "both" ? ["id", "en"] : [config.voice_language];
    if (playing) { playing.pause(); }
    queue = languages.map(function (language) { return root.dataset.voiceUrl + language + "/" + key + ".ogg"; });
    next();
  }
  function next() {
    var url = queue.shift();
    if (!url) { playing = null; return; }
    window.visitorPrompts.push(url);
    var audio = new Audio(url);
    playing = audio;
    audio.addEventListener("ended", next);
    audio.addEventListener("error", next);
    var started = audio.play();
    if (started && started.catch) {
      started.catch(function () { if (soundButton) { soundButton.hidden = false; } });
    }
  }
  if (soundButton) {
    soundButton.addEventListener("click", function () {
      soundButton.hidden = true;
      var unlock = new Audio(root.dataset.voiceUrl + config.voice_language.replace("both", "id") + "/welcome.ogg");
      unlock.volume = 0;
      unlock.play().catch(function () { soundButton.hidden = false; });
    });
  }

  // -- the stream ------------------------------------------------------------------------------------------------
  function contact() { lastContact = Date.now(); delayMs = 1000; if (lost) { lost = false; settle(); } }
  function open() {
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = null; }
    if (source) { source.close(); }
    source = new EventSource(root.dataset.eventsUrl);
    source.addEventListener("open", function () { downSince = null; lastContact = Date.now(); });
    source.addEventListener("gate", function (event) {
      contact();
      var data = JSON.parse(event.data);
      var was = closedWhy.length;
      closedWhy = data.closed || [];
      root.dataset.why = closedWhy.join(",");
      if (was !== closedWhy.length) { decision = null; }  // closing or opening: nothing from before shows
      settle();
    });
    source.addEventListener("visitor", function (event) {
      contact();
      if (closedWhy.length) { return; }  // a closed gate's own fault denials: "closed" says it all
      decision = JSON.parse(event.data);
      if (decisionTimer) { window.clearTimeout(decisionTimer); }
      decisionTimer = window.setTimeout(function () { decision = null; settle(); }, config.show_s * 1000);
      shown = null;  // the same words again are a new visitor's: speak them again
      settle();
    });
    source.addEventListener("tick", contact);
    source.addEventListener("error", function () {
      if (downSince === null) { downSince = Date.now(); }
      if (source.readyState === EventSource.CLOSED) { retry(); }  // refused or ended: the browser gives up
    });
  }
  function retry() {
    if (reconnectTimer) { return; }
    var wait = delayMs * (0.75 + Math.random() * 0.5);
    delayMs = Math.min(delayMs * 2, 30000);
    reconnectTimer = window.setTimeout(function () { reconnectTimer = null; open(); }, wait);
  }
  window.setInterval(function () {
    var now = Date.now();
    var silent = now - lastContact > config.tick_s * 3000;
    var down = downSince !== null && now - downSince > 2000;
    if ((silent || down) && !lost) {
      lost = true;
      decision = null;
      settle();
    }
    if (silent && source && source.readyState === EventSource.OPEN) { retry(); }  // open but dead: start over
  }, 500);

  settle();
  open();
}());
