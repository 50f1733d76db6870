// Uploads that survive a dropped connection. Every recording goes into IndexedDB first and leaves
// it only when the server has answered: 2xx (delivered) or a validation error (4xx: the file will
// never be accepted, so it is shown, not retried). Network failures, 5xx and 408/429 are retried
// in the background with backoff, at once when the browser comes back online, and on the next
// visit to any portal page; 401/403 (signed out) wait for the next visit. A 503 or 429 with
// Retry-After (the inference queue is full) waits that long, plus a little jitter so that refused
// browsers do not all come back at once. The server deduplicates by content, so a retry never
// makes a second recording.
import { gettext, ngettext, interpolate, formatNumber } from "./i18n.js";
import { csrfToken, noteActivity } from "./http.js";

const DB_NAME = "portal-uploads";
const STORE = "pending";
const RETRY_STATUSES = new Set([0, 408, 429, 500, 502, 503, 504]);
const SIGNED_OUT_STATUSES = new Set([401, 403]);
const MAX_DELAY_MS = 60_000;

export const uploads = new EventTarget();
const inFlight = new Set();
let timer = null;

function emit(type, detail) {
  uploads.dispatchEvent(new CustomEvent(type, { detail }));
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = action(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

const allItems = () => withStore("readonly", (store) => store.getAll());
const putItem = (item) => withStore("readwrite", (store) => store.put(item));
const deleteItem = (id) => withStore("readwrite", (store) => store.delete(id));

// Store a recording and start sending it; resolves with its queue id once it is safely stored.
export async function enqueue({ uploadUrl, patientId, kind, symptoms, urgent = false, blob, fileName }) {
  const item = {
    id: crypto.randomUUID(),
    uploadUrl, patientId: String(patientId), kind, symptoms, urgent: Boolean(urgent), blob, fileName,
    createdAt: Date.now(), attempts: 0, nextAttemptAt: 0, signedOut: false,
  };
  await putItem(item);
  await refreshCount();
  process();
  return item.id;
}

function send(item) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("patient", item.patientId);
    form.append("kind", item.kind);
    form.append("symptoms", JSON.stringify(item.symptoms || {}));
    form.append("urgent", item.urgent ? "true" : "false");
    form.append("file", item.blob, item.fileName);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", item.uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 120_000;
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) emit("progress", { id: item.id, fraction: event.loaded / event.total });
    });
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body, retryAfter: retryAfterMs(xhr.getResponseHeader("Retry-After")) });
    };
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => resolve({ status: 0, body: null });
    xhr.send(form);
  });
}

// Retry-After in seconds (the portal sends no dates); null when absent or unreadable.
function retryAfterMs(header) {
  const seconds = Number.parseInt(header ?? "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, 10 * MAX_DELAY_MS) : null;
}

function backoff(attempts) {
  const base = Math.min(MAX_DELAY_MS, 2000 * 2 ** Math.max(0, attempts - 1));
  return base / 2 + Math.random() * (base / 2);
}

async function deliver(item) {
  inFlight.add(item.id);
  emit("sending", { id: item.id, patientId: item.patientId });
  try {
    const { status, body, retryAfter } = await send(item);
    if (status !== 0) noteActivity();
    if (status >= 200 && status < 300) {
      await deleteItem(item.id);
      emit("delivered", { id: item.id, patientId: item.patientId, body, status });
      document.dispatchEvent(new CustomEvent("portal:recording-delivered", {
        detail: { patientId: item.patientId, body },
      }));
    } else if (RETRY_STATUSES.has(status) || status >= 500 || SIGNED_OUT_STATUSES.has(status)) {
      item.attempts += 1;
      item.signedOut = SIGNED_OUT_STATUSES.has(status);
      item.nextAttemptAt = Date.now() + (retryAfter === null ? backoff(item.attempts) : retryAfter * (1 + Math.random() * 0.2));
      await putItem(item);
      emit("waiting", { id: item.id, patientId: item.patientId, status, signedOut: item.signedOut });
    } else {
      await deleteItem(item.id);
      const message = body?.error?.message || gettext("The server could not accept this recording.");
      emit("rejected", { id: item.id, patientId: item.patientId, status, message });
    }
  } finally {
    inFlight.delete(item.id);
  }
}

async function processNow() {
  let items;
  try {
    items = await allItems();
  } catch {
    return; // no IndexedDB (private mode in some browsers): nothing was kept, nothing to retry
  }
  const now = Date.now();
  for (const item of items.sort((a, b) => a.createdAt - b.createdAt)) {
    if (inFlight.has(item.id) || item.signedOut || item.nextAttemptAt > now) continue;
    await deliver(item);
  }
  await refreshCount();
  scheduleNext();
}

// One tab at a time sends (Web Locks); the others only show the count.
export function process() {
  if (navigator.locks) {
    navigator.locks.request("portal-uploads", { ifAvailable: true }, (lock) => (lock ? processNow() : null));
  } else {
    processNow();
  }
}

async function scheduleNext() {
  clearTimeout(timer);
  const waiting = (await allItems()).filter((item) => !item.signedOut);
  if (!waiting.length) return;
  const next = Math.min(...waiting.map((item) => item.nextAttemptAt));
  timer = setTimeout(process, Math.max(500, next - Date.now()));
}

export async function retryAllNow() {
  const items = await allItems();
  for (const item of items) {
    item.nextAttemptAt = 0;
    item.signedOut = false;
    await putItem(item);
  }
  process();
}

export async function refreshCount() {
  let items = [];
  try {
    items = await allItems();
  } catch {
    items = [];
  }
  const count = items.length;
  for (const element of document.querySelectorAll("[data-pending-uploads]")) {
    element.hidden = count === 0;
    element.textContent = interpolate(
      ngettext("%(count)s recording waiting to upload", "%(count)s recordings waiting to upload", count),
      { count: formatNumber(count) },
    );
  }
  emit("pending", { count, items });
  return count;
}

// On every page load: a visit after a dropped connection delivers what was kept, signed-out
// items included (the user has signed in again to see this page).
async function resumeOnLoad() {
  try {
    const items = await allItems();
    for (const item of items.filter((i) => i.signedOut)) {
      item.signedOut = false;
      item.nextAttemptAt = 0;
      await putItem(item);
    }
  } catch {
    return;
  }
  await refreshCount();
  process();
}

// Back online: whatever delay the failed attempts built up is void, so every waiting recording
// (but those waiting for a sign-in) is tried at once, and a new failure starts the backoff afresh.
async function resumeOnline() {
  try {
    for (const item of await allItems()) {
      if (item.signedOut || (item.nextAttemptAt === 0 && item.attempts === 0)) continue;
      item.nextAttemptAt = 0;
      item.attempts = 0;
      await putItem(item);
    }
  } catch {
    return;
  }
  process();
}

window.addEventListener("online", resumeOnline);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") process();
});
resumeOnLoad();
