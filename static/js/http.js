// What every module needs to talk to the portal: the CSRF token and a note that the user was
// active (any request renews the idle session, so the timeout warning restarts).

export function csrfToken() {
  const cookie = document.cookie
    .split(";")
    .map((part) => part.trim())
    .find((part) => part.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export function noteActivity() {
  document.dispatchEvent(new CustomEvent("portal:activity"));
}
