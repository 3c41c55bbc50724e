// The chat page (/dev/chat): sends what the user does, polls the thread. No dependencies.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var thread = document.getElementById("thread");
  var errorBox = document.getElementById("error");
  var page = root.dataset.page;
  var psid = root.dataset.psid;
  var etag = null;
  var polling = false;
  var POLL_MS = 300;

  function query() {
    return "page=" + encodeURIComponent(page) + "&psid=" + encodeURIComponent(psid);
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function scrollDown() {
    thread.scrollTop = thread.scrollHeight;
  }

  function send(action) {
    action.page = page;
    action.psid = psid;
    return fetch("/dev/chat/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(action)
    }).then(function (response) {
      if (response.ok) { showError(""); poll(); return; }
      return response.json().then(function (body) {
        showError(body.error || ("sending failed: " + response.status));
      }, function () { showError("sending failed: " + response.status); });
    }, function () { showError("the server does not answer"); });
  }

  // Redraws the thread when it changed; raw JSON panels that were open stay open.
  function poll() {
    if (polling) return;
    polling = true;
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch("/dev/chat/thread?" + query(), { headers: headers, cache: "no-store" })
      .then(function (response) {
        if (response.status === 304) return;
        if (!response.ok) { showError("cannot read the thread: " + response.status); return; }
        etag = response.headers.get("ETag");
        return response.text().then(function (html) {
          var open = Array.prototype.map.call(thread.querySelectorAll("details[open]"), function (d) { return d.id; });
          var atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
          thread.innerHTML = html;
          open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
          if (atBottom) scrollDown();
        });
      }, function () { showError("the server does not answer"); })
      .then(function () { polling = false; }, function () { polling = false; });
  }

  // Every chip, button, menu item and Get Started carries what it sends.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-send]");
    if (!target) return;
    event.preventDefault();
    var kind = target.dataset.send;
    if (kind === "sticker") { send({ kind: "sticker" }); return; }
    send({ kind: kind, title: target.dataset.title || "", payload: target.dataset.payload || "" });
    var menu = document.getElementById("menu");
    if (menu) menu.hidden = true;
  });

  document.getElementById("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("message");
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send({ kind: "text", text: text });
  });

  var menuToggle = document.getElementById("menu-toggle");
  if (menuToggle) {
    menuToggle.addEventListener("click", function () {
      var menu = document.getElementById("menu");
      menu.hidden = !menu.hidden;
    });
  }

  var locationForm = document.getElementById("location-form");
  document.getElementById("location-toggle").addEventListener("click", function () {
    locationForm.hidden = !locationForm.hidden;
  });
  locationForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var lat = parseFloat(locationForm.elements.lat.value);
    var long = parseFloat(locationForm.elements.long.value);
    locationForm.hidden = true;
    send({ kind: "location", lat: lat, long: long });
  });

  document.getElementById("new-user").addEventListener("click", function () {
    var digits = "";
    for (var i = 0; i < 12; i++) digits += Math.floor(Math.random() * 10);
    document.getElementById("who-psid").value = "5551" + digits;
    document.getElementById("who").submit();
  });

  document.getElementById("who-locale").addEventListener("change", function (event) {
    fetch("/dev/chat/locale", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ page: page, psid: psid, locale: event.target.value })
    }).then(function (response) {
      if (response.ok) { showError(""); etag = null; poll(); }
      else response.json().then(function (body) { showError(body.error); });
    });
  });
  document.getElementById("who-page").addEventListener("change", function () {
    document.getElementById("who").submit();
  });

  scrollDown();
  setInterval(poll, POLL_MS);
})();
