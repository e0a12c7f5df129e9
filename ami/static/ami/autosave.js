/*
 * Autosave of the candidature steps (htmx posts the form after a short pause).
 * - The current values are kept in this browser's storage until the server confirms them, so a
 *   network failure, a server error or an expired session loses nothing: the values are restored
 *   and sent again when the page is opened next.
 * - On failure, a retry is scheduled and the status line says so.
 */
(function () {
  "use strict";
  var RETRY_DELAY_MS = 10000;

  // One key per user and form: people sharing a browser never get each other's values back.
  function storageKey(form) {
    return "ami-autosave:" + (form.getAttribute("data-autosave-user") || "") + ":" +
      form.getAttribute("hx-post");
  }

  function values(form) {
    var data = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") { data[name] = value; }
    });
    return data;
  }

  function remember(form) {
    try {
      window.localStorage.setItem(storageKey(form), JSON.stringify(values(form)));
    } catch (e) { /* storage full or disabled: the server copy is still tried */ }
  }

  function forget(form, sent) {
    try {
      var stored = window.localStorage.getItem(storageKey(form));
      if (stored && stored === JSON.stringify(sent)) {
        window.localStorage.removeItem(storageKey(form));
      }
    } catch (e) { /* ignore */ }
  }

  function status(form, text) {
    var target = document.querySelector(form.getAttribute("hx-target"));
    if (target) {
      target.innerHTML = "";
      var span = document.createElement("span");
      span.className = "fr-error-text";
      span.textContent = text;
      target.appendChild(span);
    }
  }

  function now() {
    var d = new Date();
    return d.getHours() + " h " + String(d.getMinutes()).padStart(2, "0");
  }

  function scheduleRetry(form) {
    window.clearTimeout(form._amiRetry);
    form._amiRetry = window.setTimeout(function () {
      window.htmx.trigger(form, "change");
    }, RETRY_DELAY_MS);
  }

  function restore(form) {
    var stored;
    try { stored = window.localStorage.getItem(storageKey(form)); } catch (e) { return; }
    if (!stored) { return; }
    var data = JSON.parse(stored);
    var restored = false;
    Object.keys(data).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && "value" in field && field.value !== data[name]) {
        field.value = data[name];
        restored = true;
      }
    });
    if (restored) {
      status(form, "Des saisies non enregistrées ont été retrouvées sur cet appareil : envoi en cours…");
      window.htmx.trigger(form, "change");
    } else {
      window.localStorage.removeItem(storageKey(form));
    }
  }

  function init() {
    document.querySelectorAll("form[data-autosave]").forEach(function (form) {
      form.addEventListener("input", function () { remember(form); });
      form.addEventListener("change", function () { remember(form); });
      form.addEventListener("htmx:configRequest", function (event) {
        form._amiSent = values(form);
        // htmx posts a form to the formaction of the submit button last clicked or focused:
        // leaving a field by clicking « Rendre mon évaluation » would send that autosave to the
        // submission URL, a second submission answered by an error. Autosaves go to hx-post.
        event.detail.path = form.getAttribute("hx-post");
      });
      form.addEventListener("htmx:afterRequest", function (event) {
        var xhr = event.detail.xhr;
        if (event.detail.successful && xhr && xhr.status === 200) {
          forget(form, form._amiSent);
        } else if (!xhr || xhr.status === 0 || xhr.status >= 500) {
          status(form, "Échec de l'enregistrement à " + now() +
            " : vos saisies sont gardées sur cet appareil, nouvel essai dans quelques secondes.");
          scheduleRetry(form);
        }
      });
      form.addEventListener("htmx:sendError", function () {
        status(form, "Connexion perdue à " + now() +
          " : vos saisies sont gardées sur cet appareil, nouvel essai dans quelques secondes.");
        scheduleRetry(form);
      });
      // Leaving the step with the buttons saves the whole form: nothing left to keep then.
      form.addEventListener("submit", function () {
        try { window.localStorage.removeItem(storageKey(form)); } catch (e) { /* ignore */ }
      });
      restore(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
