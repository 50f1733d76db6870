// Idle-session warning. The server ends a session after SESSION_COOKIE_AGE seconds without a
// request; this shows a warning shortly before, with a button that renews the session, and goes
// to the sign-in page when time is up. Tabs share the last activity time through localStorage.
import { gettext, interpolate, formatDuration } from "./i18n.js";
import { csrfToken, noteActivity } from "./http.js";

const body = document.body;
const ageMs = Number(body.dataset.sessionAge) * 1000;
const warnMs = Number(body.dataset.sessionWarning) * 1000;
const dialog = document.querySelector("[data-session-warning-dialog]");
const STORAGE_KEY = "portal.lastActivity";

function lastActivity() {
  const shared = Number(localStorage.getItem(STORAGE_KEY) || 0);
  return Math.max(shared, localActivity);
}

let localActivity = Date.now();
let shown = false;

function markActive() {
  localActivity = Date.now();
  try {
    localStorage.setItem(STORAGE_KEY, String(localActivity));
  } catch {
    // Private mode without storage: this tab's own timer still works.
  }
  hide();
}

function show(remainingMs) {
  const countdown = dialog.querySelector("[data-session-countdown]");
  countdown.textContent = interpolate(gettext("Signing out in %(time)s."), {
    time: formatDuration(remainingMs / 1000),
  });
  if (!shown) {
    shown = true;
    dialog.hidden = false;
    dialog.querySelector("[data-session-stay]").focus();
  }
}

function hide() {
  if (shown) {
    shown = false;
    dialog.hidden = true;
  }
}

function signInAgain() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`${body.dataset.loginUrl}?next=${next}`);
}

async function stay() {
  try {
    const response = await fetch(body.dataset.keepaliveUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      redirect: "manual",
    });
    if (response.status === 204) {
      noteActivity();
      return;
    }
  } catch {
    return; // offline: keep the warning; the next tick tries again or signs out
  }
  signInAgain();
}

function tick() {
  const remaining = lastActivity() + ageMs - Date.now();
  if (remaining <= 0) {
    signInAgain();
  } else if (remaining <= warnMs) {
    show(remaining);
  } else {
    hide();
  }
}

if (dialog && ageMs > 0) {
  markActive();
  dialog.querySelector("[data-session-stay]").addEventListener("click", stay);
  document.addEventListener("portal:activity", markActive);
  window.addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY) tick();
  });
  setInterval(tick, 1000);
}
