// Every audio player of the portal, the recorder's preview included: WebM recorded by a browser's
// MediaRecorder has no duration in its header, so Chromium reports an infinite length and shows
// "0:00 / 0:00" with a scrubber that cannot seek. Asking for a position past the end makes the
// browser find the real end; the player then goes back to the start. The stored file stays the
// clinician's original bytes.
const settling = new WeakSet();

function findDuration(audio) {
  if (settling.has(audio)) return;
  settling.add(audio);
  const done = () => {
    if (!Number.isFinite(audio.duration)) return;
    audio.removeEventListener("durationchange", done);
    audio.removeEventListener("timeupdate", done);
    audio.currentTime = 0;
    settling.delete(audio);
  };
  audio.addEventListener("durationchange", done);
  audio.addEventListener("timeupdate", done);
  audio.currentTime = Number.MAX_SAFE_INTEGER;
}

// Media events do not bubble: one listener in the capture phase sees every player, including
// those a live update adds later.
document.addEventListener(
  "loadedmetadata",
  (event) => {
    const audio = event.target;
    if (audio instanceof HTMLAudioElement && audio.duration === Infinity) findDuration(audio);
  },
  true,
);
