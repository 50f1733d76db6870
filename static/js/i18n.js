// Translations from Django's JavaScript catalogue (/jsi18n/, loaded before any module), and
// locale-aware numbers. Every user-visible string in the modules goes through gettext here.

const catalog = () => globalThis.django || {};

export function gettext(message) {
  const django = catalog();
  return django.gettext ? django.gettext(message) : message;
}

export function ngettext(singular, plural, count) {
  const django = catalog();
  if (django.ngettext) return django.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// interpolate("%(count)s left", {count: 3}) with named placeholders, as in Django templates.
export function interpolate(format, values) {
  return format.replace(/%\(([a-z_]+)\)s/g, (match, name) =>
    name in values ? String(values[name]) : match,
  );
}

export function formatNumber(value, options = {}) {
  const locale = document.documentElement.lang || undefined;
  return new Intl.NumberFormat(locale, options).format(value);
}

// 75 -> "1:15", with the locale's digits.
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const minutes = Math.floor(seconds / 60);
  const rest = formatNumber(seconds % 60, { minimumIntegerDigits: 2 });
  return `${formatNumber(minutes)}:${rest}`;
}
