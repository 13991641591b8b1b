// Period report (docs/reports.md): the same figures as `dispatchctl report`, for auditors,
// dispatchers and admins, with inline SVG charts (no chart script: the console's CSP allows
// only its own bundle, and a chart is a few rectangles).
import { rpc } from '../api';
import { el } from '../format';

interface StopPunctuality { site?: string; onTime?: string; early?: string; late?: string; missed?: string; skipped?: string }
interface Bucket { minutes?: number; stops?: string }
interface AlertCount { kind?: string; severity?: string; count?: string }
interface ResponseTimes {
  key?: string; raised?: string; acknowledged?: string; resolved?: string;
  ackP50S?: number; ackP95S?: number; resolveP50S?: number; resolveP95S?: number;
}
export interface PeriodReport {
  runsPlanned?: string; runsCompleted?: string; runsAborted?: string; runsInProgress?: string; runsNotDispatched?: string;
  vehicles?: string;
  punctuality?: { total?: StopPunctuality; buckets?: Bucket[]; sites?: StopPunctuality[] };
  alerts?: AlertCount[]; alertsTotal?: string;
  bySeverity?: ResponseTimes[]; byOperator?: ResponseTimes[];
  deviations?: string; offRouteKm?: number; offRouteS?: number;
  records?: string; fixes?: string; gaps?: string; gapTotalS?: number; delayedRecords?: string; seqGaps?: string;
  buildS?: number;
}

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = { onTime: '#2e7d32', early: '#1565c0', late: '#c62828', missed: '#6d4c41', skipped: '#9e9e9e' };
const SEVERITY_COLORS: Record<string, string> = { CRITICAL: '#b71c1c', HIGH: '#e65100', MEDIUM: '#f9a825', LOW: '#607d8b' };
const n = (v: string | number | undefined): number => Number(v ?? 0);
const word = (v: string | undefined, prefix: string): string => (v ?? '').replace(prefix, '');

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (tag === 'text') e.setAttribute('fill', 'currentColor');  // readable on the dark theme
  if (text !== undefined) e.textContent = text;
  return e;
}

interface Bar { label: string; segments: Array<[number, string, string]> }

// Horizontal bars with stacked segments (value, colour, tooltip).
function hbars(caption: string, bars: Bar[], cls: string): HTMLElement {
  const fig = el('figure', `chart ${cls}`);
  fig.append(el('figcaption', '', caption));
  const max = Math.max(1, ...bars.map((b) => b.segments.reduce((s, [v]) => s + v, 0)));
  const row = 22, labelW = 220, barW = 420;
  const chart = svg('svg', { width: labelW + barW + 60, height: bars.length * row + 8, role: 'img' });
  bars.forEach((b, i) => {
    const y = 4 + i * row;
    chart.append(svg('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end', 'font-size': 12 }, b.label));
    let x = labelW, sum = 0;
    for (const [v, color, title] of b.segments) {
      const w = (v / max) * barW;
      if (w > 0) {
        const r = svg('rect', { x, y: y + 2, width: w, height: row - 6, fill: color });
        r.append(svg('title', {}, title));
        chart.append(r);
      }
      x += w;
      sum += v;
    }
    chart.append(svg('text', { x: x + 4, y: y + 15, 'font-size': 12 }, String(Math.round(sum * 10) / 10)));
  });
  fig.append(chart);
  return fig;
}

// Visited stops by minutes outside their window, early left, late right.
function distribution(buckets: Bucket[]): HTMLElement {
  const fig = el('figure', 'chart punctuality-chart');
  fig.append(el('figcaption', '', 'Arrival against the window, minutes (early < 0 < late)'));
  const lo = Math.min(0, ...buckets.map((b) => n(b.minutes)));
  const hi = Math.max(0, ...buckets.map((b) => n(b.minutes)));
  const max = Math.max(1, ...buckets.map((b) => n(b.stops)));
  const colW = Math.min(40, Math.max(14, Math.floor(560 / (hi - lo + 1)))), plotH = 160, top = 16;
  const chart = svg('svg', { width: (hi - lo + 1) * colW + 20, height: plotH + top + 34, role: 'img' });
  for (let m = lo; m <= hi; m++) {
    const x = 10 + (m - lo) * colW;
    const c = n(buckets.find((b) => n(b.minutes) === m)?.stops);
    if (c > 0) {
      const h = (c / max) * plotH;
      const r = svg('rect', { x: x + 1, y: top + plotH - h, width: colW - 2, height: h, fill: m < 0 ? COLORS.early : m > 0 ? COLORS.late : COLORS.onTime });
      r.dataset.minutes = String(m);
      r.append(svg('title', {}, `${c} stops at ${m} min`));
      chart.append(r, svg('text', { x: x + colW / 2, y: top + plotH - h - 3, 'font-size': 10, 'text-anchor': 'middle' }, String(c)));
    }
    if (m === lo || m === hi || m % 5 === 0) chart.append(svg('text', { x: x + colW / 2, y: top + plotH + 14, 'font-size': 10, 'text-anchor': 'middle' }, String(m)));
  }
  fig.append(chart);
  return fig;
}

function table(head: string[], rows: Array<Array<string | number>>, cls: string): HTMLTableElement {
  const t = el('table', cls);
  const tr = el('tr');
  for (const h of head) tr.append(el('th', '', h));
  t.append(tr);
  for (const r of rows) {
    const row = el('tr');
    for (const c of r) row.append(el('td', '', String(c)));
    t.append(row);
  }
  return t;
}

const secs = (s: number | undefined): string => `${Math.round(n(s))} s`;

function timesTable(rows: ResponseTimes[] | undefined, cls: string): HTMLTableElement {
  return table(['', 'raised', 'acknowledged', 'ack p50', 'ack p95', 'resolved', 'resolve p50', 'resolve p95'],
    (rows ?? []).map((x) => [x.key ?? '', n(x.raised), n(x.acknowledged),
      n(x.acknowledged) ? secs(x.ackP50S) : '-', n(x.acknowledged) ? secs(x.ackP95S) : '-', n(x.resolved),
      n(x.resolved) ? secs(x.resolveP50S) : '-', n(x.resolved) ? secs(x.resolveP95S) : '-']), cls);
}

export function renderReport(r: PeriodReport): HTMLElement {
  const out = el('div', 'period-report');
  out.append(el('h3', '', 'Runs'), table(['planned', 'completed', 'aborted', 'in progress', 'not dispatched', 'vehicles'],
    [[n(r.runsPlanned), n(r.runsCompleted), n(r.runsAborted), n(r.runsInProgress), n(r.runsNotDispatched), n(r.vehicles)]], 'runs'));
  const t = r.punctuality?.total ?? {};
  out.append(el('h3', '', 'Stop punctuality (ended runs)'), table(['on time', 'early', 'late', 'missed', 'skipped'],
    [[n(t.onTime), n(t.early), n(t.late), n(t.missed), n(t.skipped)]], 'punctuality'));
  if (r.punctuality?.buckets?.length) out.append(distribution(r.punctuality.buckets));
  const sites = r.punctuality?.sites ?? [];
  if (sites.length) {
    out.append(hbars('Stops by site', sites.map((s) => ({
      label: s.site ?? '',
      segments: [[n(s.onTime), COLORS.onTime, `${n(s.onTime)} on time`], [n(s.early), COLORS.early, `${n(s.early)} early`],
        [n(s.late), COLORS.late, `${n(s.late)} late`], [n(s.missed), COLORS.missed, `${n(s.missed)} missed`],
        [n(s.skipped), COLORS.skipped, `${n(s.skipped)} skipped`]],
    })), 'sites-chart'));
  }
  out.append(el('h3', '', `Alerts (${n(r.alertsTotal)})`));
  if (r.alerts?.length) {
    out.append(hbars('Alerts by kind and severity', r.alerts.map((a) => {
      const sev = word(a.severity, 'SEVERITY_');
      return { label: `${word(a.kind, 'ALERT_KIND_')} ${sev}`, segments: [[n(a.count), SEVERITY_COLORS[sev] ?? '#607d8b', `${n(a.count)} alerts`]] };
    }), 'alerts-chart'));
  }
  out.append(el('h3', '', 'Response times by severity'), timesTable(r.bySeverity, 'by-severity'));
  out.append(el('h3', '', 'Response times by operator'), timesTable(r.byOperator, 'by-operator'));
  out.append(el('h3', '', 'Deviations'), table(['route deviations', 'km off route', 'time off route'],
    [[n(r.deviations), n(r.offRouteKm).toFixed(2), secs(r.offRouteS)]], 'deviations'));
  out.append(el('h3', '', 'Data completeness (ended runs)'), table(['records', 'fixes', 'gaps > 60 s', 'gap time', 'delayed records', 'sequence gaps'],
    [[n(r.records), n(r.fixes), n(r.gaps), secs(r.gapTotalS), n(r.delayedRecords), n(r.seqGaps)]], 'completeness'));
  out.append(el('p', 'note', `Built by the server in ${n(r.buildS).toFixed(3)} s.`));
  return out;
}

// The form (UTC days, vehicles) and the report below it; the current UTC month by default.
export function reportView(): HTMLElement {
  const root = el('section', 'report-view');
  root.append(el('h2', '', 'Period report'));
  const form = el('form', 'report-form');
  const now = new Date();
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0));
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const from = el('input', 'from');
  from.type = 'date';
  from.value = day(first);
  const to = el('input', 'to');
  to.type = 'date';
  to.value = day(last);
  const vehicles = el('input', 'vehicles');
  vehicles.placeholder = 'vehicles (blank: whole fleet)';
  const go = el('button', 'run-report', 'Report');
  go.type = 'submit';
  form.append(el('label', '', 'From (UTC day) '), from, el('label', '', ' to '), to, ' ', vehicles, ' ', go);
  const result = el('div', 'report-result');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      result.replaceChildren(el('p', 'loading', 'Building the report…'));
      try {
        const end = new Date(`${to.value}T00:00:00Z`);
        end.setUTCDate(end.getUTCDate() + 1);  // the whole "to" day
        const r = await rpc<PeriodReport>('cit.v1.Audit', 'GetPeriodReport', {
          from: `${from.value}T00:00:00Z`,
          to: end.toISOString(),
          vehicleIds: vehicles.value.split(/[\s,]+/).filter((v) => v !== ''),
        });
        result.replaceChildren(renderReport(r));
      } catch (err) {
        result.replaceChildren(el('p', 'error', `Could not build the report: ${(err as Error).message}`));
      }
    })();
  });
  root.append(form, result);
  return root;
}
