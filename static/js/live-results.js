// Live status of the diagnostics on a patient's timeline. Listens on ws(s)://host/ws/patients/<id>/
// for {"type": "diagnostic", id, status, queue_position, ...}; while the socket is down it polls
// GET /api/v1/diagnostics/<id>/ for the unfinished ones, and where that endpoint does not answer
// (404), the page's own card URL with ?unless=<status> (204 while nothing changed).
// A message can be missed even while the socket is open (a channel over capacity, a group
// membership lost), so the page also reconciles with GET /api/v1/patients/<id>/pending/ (an ETag
// poll: 304 while nothing changed) whenever it may have missed one: when the socket opens (again),
// when the page becomes visible, after a burst of messages, and every few seconds while anything
// on it is still queued or running.
// A socket closed with 1012 ("service restart": the web process is draining in a rolling restart,
// docs/deploy.md) is reopened after a moment, through the load balancer to another process, with
// the back-off started afresh; any other close doubles the back-off, up to 30 s. Either way the
// page polls while the socket is closed and reconciles when it opens again.
// When a diagnostic changes status, its server-rendered card replaces the old one, so the label,
// confidence, model version, research-use and synthetic notices look exactly as after a reload. A
// {"type": "spectrogram", recording} message adds the recording's picture to its card.
import { gettext, interpolate, formatNumber } from "./i18n.js";

const FINISHED = new Set(["succeeded", "failed"]);
const POLL_MS = 4000;
const RECONCILE_MS = 5000; // while anything on the page is queued or running
const AFTER_BURST_MS = 1500; // quiet time after the last message before checking what was missed
const SERVICE_RESTART = 1012; // the close code of a web process that is shutting down
const RECONNECT_MS = 1000; // the first back-off
const RESTART_SPREAD_MS = 1000; // a restarting process's pages reconnect over this long, not at once
const STATUS_TEXT = {
  queued: gettext("Queued"),
  running: gettext("Analysing"),
  succeeded: gettext("Result ready"),
  failed: gettext("Analysis failed"),
};

// A new result waits for review: the count in the navigation goes up without a reload.
function countOneMoreToReview() {
  const badge = document.querySelector("[data-review-count]");
  const current = Number.parseInt(badge?.dataset.count ?? badge?.textContent, 10);
  if (!badge || Number.isNaN(current) || badge.textContent.includes("+")) return;
  badge.dataset.count = String(current + 1);
  badge.textContent = formatNumber(current + 1);
  badge.classList.remove("is-zero");
}

class LiveTimeline {
  constructor(list) {
    this.list = list;
    this.patientId = list.dataset.patientId;
    this.state = list.closest("section")?.querySelector("[data-live-state]");
    this.socket = null;
    this.reconnectDelay = RECONNECT_MS;
    this.pollTimer = null;
    this.apiMissing = false;
    this.refreshing = new Set();
    this.pendingEtag = null;
    this.burstTimer = null;
    this.reconciling = false;
    // Diagnostics missing from the page are shown only if they are newer than all on it and this
    // is the first page: the socket's snapshot also names older ones that are simply not listed.
    this.newest = Math.max(0, ...this.results().map((el) => Number(el.dataset.diagnosticId)));
    document.addEventListener("portal:recording-delivered", (event) => this.onDelivered(event.detail));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconcile();
    });
    setInterval(() => {
      if (document.visibilityState === "visible" && this.anyUnfinished()) this.reconcile();
    }, RECONCILE_MS);
    this.connect();
  }

  anyUnfinished() {
    return this.results().some((el) => !FINISHED.has(el.dataset.status));
  }

  // Ask the server which of the patient's diagnostics are still pending and which are the most
  // recent, and bring every card that disagrees up to date (its server-rendered card).
  async reconcile() {
    const url = this.list.dataset.pendingUrl;
    if (!url || this.reconciling) return;
    this.reconciling = true;
    try {
      const headers = { Accept: "application/json" };
      if (this.pendingEtag) headers["If-None-Match"] = this.pendingEtag;
      const response = await fetch(url, { headers, credentials: "same-origin" });
      if (response.status === 304 || !response.ok) return;
      const body = await response.json();
      const known = new Map();
      for (const item of [...body.recent, ...body.pending]) known.set(String(item.id), item.status);
      for (const [id, status] of known) {
        // Only what differs: a card's queue position (from its messages) is kept.
        if (this.result(id)?.dataset.status !== status) this.apply({ id, status });
      }
      // A card still unfinished here that the server no longer lists as pending has finished.
      const pending = new Set(body.pending.map((item) => String(item.id)));
      for (const element of this.results()) {
        const id = element.dataset.diagnosticId;
        if (!FINISHED.has(element.dataset.status) && !pending.has(id) && !known.has(id)) {
          this.refresh(id, element.dataset.status);
        }
      }
      this.pendingEtag = response.headers.get("ETag");
    } catch {
      // offline: the next trigger tries again
    } finally {
      this.reconciling = false;
    }
  }

  // Messages come in bursts (a batch's results); once one has ended, check nothing was lost.
  afterBurst() {
    clearTimeout(this.burstTimer);
    this.burstTimer = setTimeout(() => this.reconcile(), AFTER_BURST_MS);
  }

  results() {
    return [...this.list.querySelectorAll(".result[data-diagnostic-id]")];
  }

  result(id) {
    return this.list.querySelector(`.result[data-diagnostic-id="${CSS.escape(String(id))}"]`);
  }

  say(text) {
    if (this.state) this.state.textContent = text;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}${this.list.dataset.wsPath}`);
    } catch {
      this.startPolling();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.reconnectDelay = RECONNECT_MS;
      this.stopPolling();
      this.say(gettext("Live"));
      this.reconcile(); // what changed while the socket was down
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "diagnostic") {
        this.apply(message);
        this.afterBurst();
      } else if (message.type === "spectrogram") this.addSpectrogram(message.recording);
    });
    socket.addEventListener("close", (event) => {
      this.socket = null;
      this.startPolling();
      if (event.code === SERVICE_RESTART) {
        // Not a failure: another process takes the socket. Soon, but spread out.
        this.reconnectDelay = RECONNECT_MS;
        setTimeout(() => this.connect(), 250 + Math.random() * RESTART_SPREAD_MS);
        return;
      }
      setTimeout(() => this.connect(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30000);
    });
  }

  startPolling() {
    if (this.pollTimer) return;
    this.say(gettext("Checking for updates every few seconds"));
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    this.poll();
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  async poll() {
    const unfinished = this.results().filter((el) => !FINISHED.has(el.dataset.status));
    for (const element of unfinished) {
      const id = element.dataset.diagnosticId;
      if (!this.apiMissing) {
        const status = await this.pollApi(id);
        if (status !== 404) continue;
        this.apiMissing = true;
      }
      await this.refresh(id, element.dataset.status);
    }
  }

  async pollApi(id) {
    try {
      const response = await fetch(this.list.dataset.pollUrl.replace("{id}", id), {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (response.ok) this.apply({ ...(await response.json()), id });
      return response.status;
    } catch {
      return 0; // offline: try again on the next tick
    }
  }

  apply(message) {
    const element = this.result(message.id);
    if (!element) {
      // A recording made elsewhere (another tab, a colleague): show it too, on the timeline.
      if ("firstPage" in this.list.dataset && Number(message.id) > this.newest) {
        this.refresh(message.id, null);
      }
      return;
    }
    const changed = element.dataset.status !== message.status;
    if (changed && (FINISHED.has(message.status) || FINISHED.has(element.dataset.status))) {
      // The result page shows more than the card (the review form): reload it whole.
      if ("knownOnly" in this.list.dataset) location.reload();
      else this.refresh(message.id, null);
      return;
    }
    element.dataset.status = message.status;
    this.updateBadge(element, message);
  }

  updateBadge(element, message) {
    const badge = element.querySelector("[data-status-badge]");
    if (!badge || !STATUS_TEXT[message.status]) return;
    badge.className = `badge badge-${message.status}`;
    badge.textContent = STATUS_TEXT[message.status];
    if (message.status === "queued" && message.queue_position) {
      const position = document.createElement("span");
      position.className = "queue-position";
      position.textContent = interpolate(gettext("position %(position)s in the queue"), {
        position: formatNumber(message.queue_position),
      });
      if (message.expected_wait_s) {
        position.textContent += interpolate(gettext(", expected in about %(seconds)s s"), {
          seconds: formatNumber(message.expected_wait_s),
        });
      }
      badge.append(" ", position);
    }
  }

  onDelivered({ patientId, body }) {
    if (String(patientId) !== this.patientId || !body?.diagnostic) return;
    const id = body.diagnostic.id;
    if (!this.result(id)) this.refresh(id, null);
  }

  // Fetch the server-rendered card of one diagnostic and put it in place (or on top, if new).
  async refresh(id, unless) {
    if (this.refreshing.has(String(id))) return;
    this.refreshing.add(String(id));
    try {
      const url = `${this.cardUrl(id)}${unless ? `?unless=${encodeURIComponent(unless)}` : ""}`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.status !== 200) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const item = page.querySelector(".timeline-item");
      const fresh = page.querySelector(".result[data-diagnostic-id]");
      if (!item || !fresh) return;
      const current = this.result(id);
      if (current) {
        if (current.dataset.status !== "succeeded" && fresh.dataset.status === "succeeded") {
          countOneMoreToReview();
        }
        current.replaceWith(document.importNode(fresh, true));
      } else if (!this.list.querySelector(`#${CSS.escape(item.id)}`)) {
        const node = document.importNode(item, true);
        node.classList.add("is-new");
        this.list.prepend(node);
        this.newest = Math.max(this.newest, Number(id));
        document.querySelector("[data-timeline-empty]")?.remove();
      }
    } catch {
      // offline: the next message or poll brings it
    } finally {
      this.refreshing.delete(String(id));
    }
  }

  // A recording's picture was rendered after its card: take the figure from the server-rendered
  // card and put it under the card's player, which keeps playing undisturbed.
  async addSpectrogram(recordingId) {
    const item = this.list.querySelector(`#recording-${CSS.escape(String(recordingId))}`);
    const diagnosticId = item?.querySelector(".result[data-diagnostic-id]")?.dataset.diagnosticId;
    if (!item || !diagnosticId || item.querySelector(".spectrogram")) return;
    try {
      const response = await fetch(this.cardUrl(diagnosticId), { credentials: "same-origin" });
      if (response.status !== 200) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const figure = page.querySelector(".spectrogram");
      if (figure && !item.querySelector(".spectrogram")) {
        item.querySelector(".audio-player").after(document.importNode(figure, true));
      }
    } catch {
      // offline: the picture is there on the next visit
    }
  }

  cardUrl(id) {
    return this.list.dataset.cardUrl.replace("{id}", id);
  }
}

const list = document.querySelector("[data-timeline]");
if (list) new LiveTimeline(list);
