// Times for people: local time with the time zone shown, UTC on hover (title attribute),
// durations in words.

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const localFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
  timeZoneName: 'short',
});
const localDateFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
  timeZoneName: 'short',
});

export function timeZoneName(): string {
  return zone;
}

export function parseTime(t: string | undefined | null): Date | null {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) || d.getTime() <= 0 ? null : d;
}

export function utcTitle(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z') + ' (UTC)';
}

// An element showing `t` in local time with the zone, UTC in its title.
export function timeElement(t: string | undefined | null, withDate = false): HTMLElement {
  const el = document.createElement('time');
  const d = parseTime(t);
  if (!d) {
    el.textContent = '—';
    return el;
  }
  el.dateTime = d.toISOString();
  el.textContent = (withDate ? localDateFmt : localFmt).format(d);
  el.title = utcTitle(d);
  return el;
}

// 3 s, 3 min, 1 h 5 min, 2 d 3 h.
export function durationWords(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

// "3 min late", "2 min early", "on time".
export function lateness(deltaSeconds: number): string {
  if (Math.abs(deltaSeconds) < 30) return 'on time';
  return `${durationWords(deltaSeconds)} ${deltaSeconds > 0 ? 'late' : 'early'}`;
}

// "4 min ago".
export function age(from: Date, now = new Date()): string {
  return `${durationWords((now.getTime() - from.getTime()) / 1000)} ago`;
}

// Enum names without their prefix, for people: SEVERITY_CRITICAL -> critical.
export function enumWord(value: string | undefined, prefix: string): string {
  if (!value) return '';
  return value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase().replace(/_/g, ' ') : value;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
