// Keyboard shortcuts of the review queue: j/k move between results, p plays or pauses the
// recording, c confirms, i marks inconclusive, x moves to the "correct to" choice (Enter there
// submits the correction). Keys typed into a field are left alone. Each result is one line; the
// current one (j/k, or a click on its line) opens to show its player, spectrogram and review
// form, and the others close, so the list stays short.
const list = document.querySelector("[data-review-list]");

function items() {
  return [...list.querySelectorAll("[data-review-item]")];
}

let current = -1;

function select(index) {
  const all = items();
  if (!all.length) return;
  current = Math.max(0, Math.min(index, all.length - 1));
  all.forEach((item, i) => item.classList.toggle("is-current", i === current));
  open(all[current]);
  all[current].focus();
  all[current].scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function open(item) {
  for (const details of list.querySelectorAll("[data-review-details][open]")) {
    if (!item.contains(details)) details.open = false;
  }
  const details = item.querySelector("[data-review-details]");
  if (details) details.open = true;
}

function currentItem() {
  if (current < 0) select(0);
  return items()[current];
}

function typingIn(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

const actions = {
  j: () => select(current + 1),
  k: () => select(current - 1),
  p: () => {
    const audio = currentItem()?.querySelector("audio");
    if (audio) {
      if (audio.paused) audio.play();
      else audio.pause();
    }
  },
  c: () => currentItem()?.querySelector("[data-review-confirm]")?.click(),
  i: () => currentItem()?.querySelector("[data-review-inconclusive]")?.click(),
  x: () => currentItem()?.querySelector("[data-review-label]")?.focus(),
};

if (list) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const label = event.target.closest?.("[data-review-label]");
    if (label && event.key === "Enter") {
      event.preventDefault();
      label.closest("form").querySelector("[data-review-correct]").click();
      return;
    }
    if (typingIn(event.target)) return;
    const action = actions[event.key.toLowerCase()];
    if (action) {
      event.preventDefault();
      action();
    }
  });
  list.addEventListener("focusin", (event) => {
    const item = event.target.closest("[data-review-item]");
    if (item) {
      current = items().indexOf(item);
      items().forEach((other) => other.classList.toggle("is-current", other === item));
    }
  });
}
