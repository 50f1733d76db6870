// The recorder on the patient page: microphone permission, a live level meter (Web Audio
// AnalyserNode), a timer that stops at the maximum length, play back and re-record, or a chosen
// file instead; then the upload through the offline-safe queue, with its progress and the server's
// error message in plain words next to the recorder.
import { gettext, ngettext, interpolate, formatDuration, formatNumber } from "./i18n.js";
import { enqueue, uploads, refreshCount, retryAllNow } from "./upload-queue.js";

// Advice before upload, from the same measures the server's quality gate uses: a take whose
// loudest moment stays under QUIET_DBFS, or whose frames clip (a sample at full scale) more than
// CLIPPED_SHARE of the time, is worth recording again (the upload is still allowed).
const QUIET_DBFS = -40;
const CLIPPED_SHARE = 0.01;
const FRAME = 2048;

function newLevels() {
  return { frames: 0, clipped: 0, loudest: -120 };
}

function addFrame(levels, samples) {
  let sum = 0;
  let peak = 0;
  for (const x of samples) {
    sum += x * x;
    peak = Math.max(peak, Math.abs(x));
  }
  const decibels = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-6);
  levels.frames += 1;
  if (peak >= 0.99) levels.clipped += 1;
  levels.loudest = Math.max(levels.loudest, decibels);
  return decibels;
}

function levelAdvice(levels) {
  if (!levels.frames) return "";
  if (levels.clipped / levels.frames > CLIPPED_SHARE) {
    return gettext("The sound was too loud and may be distorted (clipped). Hold the device further away and record again.");
  }
  if (levels.loudest < QUIET_DBFS) {
    return gettext("The level meter stayed very low: the recording may be silent or too quiet. Check the microphone, come closer and record again.");
  }
  return "";
}

// The duration and levels of a chosen file, measured in the browser; null when it cannot decode it
// (the server then says why).
async function measureFile(file) {
  try {
    const context = new OfflineAudioContext(1, 1, 44100);
    const audio = await context.decodeAudioData(await file.arrayBuffer());
    const samples = audio.getChannelData(0);
    const levels = newLevels();
    for (let start = 0; start + FRAME <= samples.length; start += FRAME) {
      addFrame(levels, samples.subarray(start, start + FRAME));
    }
    return { seconds: audio.duration, levels };
  } catch {
    return null;
  }
}

const MIME_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a" };

function microphoneError(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return gettext("Microphone access was refused. Allow the microphone for this site in the browser's settings, or choose a file instead.");
    case "NotFoundError":
    case "OverconstrainedError":
      return gettext("No microphone was found. Connect one, or choose a file instead.");
    case "NotReadableError":
      return gettext("The microphone is in use by another application. Close it and try again.");
    default:
      return gettext("The recording could not start. Choose a file instead, or reload the page.");
  }
}

class Recorder {
  constructor(root) {
    this.root = root;
    this.patientId = root.dataset.patientId;
    this.maxSeconds = Number(root.dataset.maxSeconds);
    this.el = (selector) => root.querySelector(selector);
    this.take = null; // {blob, fileName, seconds|null}
    this.pendingId = null;
    this.kept = new Set(); // this recorder's uploads kept for a retry, while its notice is shown
    this.el("[data-max]").textContent = formatDuration(this.maxSeconds);
    this.bind();
    this.showInstructions();
  }

  bind() {
    this.el("[data-action=record]").addEventListener("click", () => this.start());
    this.el("[data-action=stop]").addEventListener("click", () => this.stop());
    this.el("[data-action=rerecord]").addEventListener("click", () => this.reset(true));
    this.el("[data-action=upload]").addEventListener("click", () => this.upload());
    this.el("[data-file]").addEventListener("change", (event) => this.chooseFile(event.target.files[0]));
    for (const radio of this.root.querySelectorAll("input[name=kind]")) {
      radio.addEventListener("change", () => this.showInstructions());
    }
    uploads.addEventListener("progress", (e) => this.onProgress(e.detail));
    uploads.addEventListener("delivered", (e) => this.onDelivered(e.detail));
    uploads.addEventListener("rejected", (e) => this.onRejected(e.detail));
    uploads.addEventListener("waiting", (e) => this.onWaiting(e.detail));
    uploads.addEventListener("pending", (e) => this.showPending(e.detail.count));
    refreshCount();
  }

  kind() {
    return this.root.querySelector("input[name=kind]:checked");
  }

  showInstructions() {
    const kind = this.kind().value;
    for (const block of this.root.querySelectorAll("[data-instructions]")) {
      block.hidden = block.dataset.instructions !== kind;
    }
  }

  message(text, tone = "error") {
    const box = this.el("[data-message]");
    box.hidden = !text;
    box.textContent = text || "";
    box.classList.toggle("is-info", tone === "info");
    box.classList.toggle("is-ok", tone === "ok");
    box.classList.toggle("is-warn", tone === "warn");
  }

  show(action, visible) {
    this.el(`[data-action=${action}]`).hidden = !visible;
  }

  async start() {
    this.message("");
    if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
      this.message(gettext("This browser cannot record sound. Choose a file instead."));
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (error) {
      this.message(microphoneError(error));
      return;
    }
    this.reset(false);
    this.startMeter();
    const mimeType = MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    this.mediaRecorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.chunks = [];
    this.mediaRecorder.addEventListener("dataavailable", (event) => this.chunks.push(event.data));
    this.mediaRecorder.addEventListener("stop", () => this.finish());
    this.mediaRecorder.start(250);
    this.startedAt = performance.now();
    this.show("record", false);
    this.show("stop", true);
    this.el("[data-action=stop]").focus();
    this.root.classList.add("is-recording");
  }

  startMeter() {
    this.audioContext = new AudioContext();
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 2048;
    this.audioContext.createMediaStreamSource(this.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const meter = this.el("[data-level]");
    const elapsed = this.el("[data-elapsed]");
    this.levels = newLevels();
    const draw = () => {
      if (!this.mediaRecorder || this.mediaRecorder.state !== "recording") return;
      analyser.getFloatTimeDomainData(samples);
      const decibels = addFrame(this.levels, samples);
      meter.value = Math.min(1, Math.max(0, (decibels + 60) / 60));
      const seconds = (performance.now() - this.startedAt) / 1000;
      elapsed.textContent = formatDuration(seconds);
      if (seconds >= this.maxSeconds) this.stop();
      else this.frame = requestAnimationFrame(draw);
    };
    this.frame = requestAnimationFrame(draw);
  }

  stop() {
    if (this.mediaRecorder && this.mediaRecorder.state === "recording") {
      this.seconds = (performance.now() - this.startedAt) / 1000;
      this.mediaRecorder.stop();
    }
  }

  releaseMicrophone() {
    cancelAnimationFrame(this.frame);
    this.stream?.getTracks().forEach((track) => track.stop());
    this.audioContext?.close();
    this.stream = null;
    this.audioContext = null;
    this.el("[data-level]").value = 0;
    this.root.classList.remove("is-recording");
  }

  finish() {
    this.releaseMicrophone();
    const type = (this.mediaRecorder.mimeType || "audio/webm").split(";")[0];
    const blob = new Blob(this.chunks, { type });
    this.setTake({ blob, fileName: `recording.${EXTENSIONS[type] || "webm"}`, seconds: this.seconds });
    this.show("stop", false);
    this.show("rerecord", true);
    this.adviseOn(this.seconds, this.levels);
    // Stop has just been hidden: the focus goes on to what comes next, not to the page's body.
    const upload = this.el("[data-action=upload]");
    (upload.disabled ? this.el("[data-action=rerecord]") : upload).focus();
  }

  // Before upload: too short for the kind refuses the take; clipping or a level that stayed very
  // low warns (the server's quality gate would make the result inconclusive).
  adviseOn(seconds, levels) {
    const minimum = Number(this.kind().dataset.minSeconds);
    if (seconds !== null && seconds < minimum) {
      this.message(interpolate(ngettext("This recording is too short: record at least %(seconds)s second.", "This recording is too short: record at least %(seconds)s seconds.", minimum), { seconds: formatNumber(minimum) }));
      this.el("[data-action=upload]").disabled = true;
      return;
    }
    const advice = levels ? levelAdvice(levels) : "";
    this.message(advice, "warn");
  }

  async chooseFile(file) {
    if (!file) return;
    this.reset(false);
    this.setTake({ blob: file, fileName: file.name || "recording", seconds: null });
    this.show("rerecord", true);
    const measured = await measureFile(file);
    if (measured && this.take?.blob === file) this.adviseOn(measured.seconds, measured.levels);
  }

  setTake(take) {
    this.take = take;
    const preview = this.el("[data-preview]");
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = URL.createObjectURL(take.blob);
    preview.src = this.previewUrl;
    preview.hidden = false;
    this.el("[data-action=upload]").disabled = false;
  }

  reset(focusRecord) {
    this.take = null;
    const preview = this.el("[data-preview]");
    preview.hidden = true;
    preview.removeAttribute("src");
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = null;
    this.el("[data-elapsed]").textContent = formatDuration(0);
    this.el("[data-action=upload]").disabled = true;
    this.show("record", true);
    this.show("stop", false);
    this.show("rerecord", false);
    if (focusRecord) {
      this.el("[data-file]").value = "";
      this.message("");
      this.el("[data-action=record]").focus();
    }
  }

  symptoms() {
    const symptoms = {};
    for (const name of ["fever", "shortness_of_breath"]) {
      const value = this.root.querySelector(`input[name=${name}]:checked`)?.value;
      if (value) symptoms[name] = value === "yes";
    }
    const days = this.el("input[name=cough_days]").value.trim();
    if (days !== "") {
      const number = Number(days);
      if (!Number.isInteger(number) || number < 0 || number > 365) {
        throw new Error(gettext("Cough duration must be a whole number of days from 0 to 365."));
      }
      symptoms.cough_days = number;
    }
    const conditions = [...this.root.querySelectorAll("input[name=known_conditions]:checked")].map((box) => box.value);
    if (conditions.length) symptoms.known_conditions = conditions;
    return symptoms;
  }

  async upload() {
    if (!this.take) return;
    let symptoms;
    try {
      symptoms = this.symptoms();
    } catch (error) {
      this.message(error.message);
      return;
    }
    this.message("");
    this.el("[data-action=upload]").disabled = true;
    const progress = this.el("[data-progress]");
    progress.value = 0;
    progress.hidden = false;
    try {
      this.pendingId = await enqueue({
        uploadUrl: this.root.dataset.uploadUrl, patientId: this.patientId, kind: this.kind().value,
        symptoms, urgent: this.el("input[name=urgent]").checked,
        blob: this.take.blob, fileName: this.take.fileName,
      });
      this.el("input[name=urgent]").checked = false; // each recording is marked on its own
    } catch {
      progress.hidden = true;
      this.el("[data-action=upload]").disabled = false;
      this.message(gettext("This browser could not keep the recording for upload. Try again, or choose a file."));
    }
  }

  onProgress({ id, fraction }) {
    if (id === this.pendingId) this.el("[data-progress]").value = Math.round(fraction * 100);
  }

  onDelivered({ id, body, status }) {
    if (this.kept.delete(id) && !this.kept.size && id !== this.pendingId) {
      // The "connection dropped" notice is over: what it spoke of has been delivered.
      this.message(gettext("Uploaded. The analysis is queued and its result will appear in the list."), "ok");
      return;
    }
    if (id !== this.pendingId) return;
    this.pendingId = null;
    this.el("[data-progress]").hidden = true;
    this.reset(false);
    this.el("[data-file]").value = "";
    let text = body?.duplicate
      ? gettext("This recording had already been uploaded; its result is in the list.")
      : gettext("Uploaded. The analysis is queued and its result will appear in the list.");
    if (status === 202 && body?.diagnostic?.expected_wait_s) {
      // Accepted past the expected-wait cap: many recordings are ahead of this one.
      text = interpolate(gettext("Uploaded. Many recordings are waiting: the result is expected in about %(seconds)s s."), {
        seconds: formatNumber(body.diagnostic.expected_wait_s),
      });
    }
    this.message(text, "ok");
  }

  onRejected({ id, message }) {
    if (id !== this.pendingId) return;
    this.pendingId = null;
    this.el("[data-progress]").hidden = true;
    this.el("[data-action=upload]").disabled = !this.take;
    this.message(message);
  }

  onWaiting({ id, signedOut, status }) {
    if (id !== this.pendingId) return;
    this.kept.add(id);
    this.pendingId = null;
    this.el("[data-progress]").hidden = true;
    this.reset(false);
    this.el("[data-file]").value = "";
    let text = gettext("The connection dropped. The recording is kept on this device and will be uploaded automatically.");
    if (signedOut) {
      text = gettext("You have been signed out. The recording is kept on this device and will be uploaded after you sign in again.");
    } else if (status === 503) {
      text = gettext("The server is busy. The recording is kept on this device and will be uploaded automatically.");
    }
    this.message(text, "info");
  }

  showPending(count) {
    const box = this.el("[data-pending-here]");
    box.hidden = count === 0;
    if (!count) return;
    box.textContent = "";
    box.append(document.createTextNode(interpolate(gettext("Waiting to upload: %(count)s. Retrying automatically."), { count: formatNumber(count) })));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button";
    button.textContent = gettext("Retry now");
    button.addEventListener("click", retryAllNow);
    box.append(" ", button);
  }
}

const root = document.querySelector("[data-recorder]");
if (root) new Recorder(root);
