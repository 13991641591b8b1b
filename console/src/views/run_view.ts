// Run view: the runs, and for one run the plan against what happened per stop (GetRunReport)
// and a timeline of its records and alerts (GetTrack + the report's alerts).
import { ApiError, readTrack, rpc } from '../api';
import { durationWords, el, enumWord, lateness, parseTime, timeElement } from '../format';
import { Alert, Run, RunReport, StopReport, StoredRecord, TrackRecord } from '../types';

export async function runList(open: (runId: string) => string): Promise<HTMLElement> {
  const root = el('section', 'runs');
  root.append(el('h2', '', 'Runs'));
  // Summaries (no route points), page by page, newest run ids last; at most 2,000 listed.
  const res: { runs: Run[] } = { runs: [] };
  let pageToken = '';
  do {
    const page = await rpc<{ runs: Run[]; nextPageToken?: string }>('cit.v1.Dispatch', 'ListRuns', { pageSize: 500, pageToken });
    res.runs.push(...(page.runs ?? []));
    pageToken = page.nextPageToken ?? '';
  } while (pageToken && res.runs.length < 2000);
  const table = el('table', 'runs-table');
  const head = el('tr');
  for (const t of ['Run', 'Vehicle', 'State', 'Stops', 'Planned start', 'Started', 'Ended']) head.append(el('th', '', t));
  table.append(el('thead'), el('tbody'));
  table.tHead!.append(head);
  for (const r of res.runs ?? []) {
    const tr = el('tr');
    const a = el('a', '', r.plan.runId);
    a.href = open(r.plan.runId);
    const cells: Array<Node> = [a, new Text(r.plan.vehicleId), new Text(enumWord(r.state, 'RUN_STATE_')), new Text(String(r.plan.stops?.length ?? 0)), timeElement(r.plan.plannedStart, true), timeElement(r.startedTime, true), timeElement(r.endedTime, true)];
    for (const c of cells) {
      const td = el('td');
      td.append(c);
      tr.append(td);
    }
    table.tBodies[0].append(tr);
  }
  if (!res.runs?.length) root.append(el('p', 'empty', 'No runs yet.'));
  root.append(table);
  return root;
}

export async function runView(runId: string, auditHref: string | null): Promise<HTMLElement> {
  const root = el('section', 'run-view');
  const title = el('h2', '', `Run ${runId}`);
  root.append(title);
  let report: RunReport;
  try {
    report = await rpc<RunReport>('cit.v1.Audit', 'GetRunReport', { runId });
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      const run = await rpc<Run>('cit.v1.Dispatch', 'GetRun', { runId });
      root.append(el('p', 'note', 'Your role may not read run reports: the plan only.'), planTable(run));
      return root;
    }
    throw e;
  }
  const run = report.run;
  const facts = el('dl', 'run-facts');
  const fact = (k: string, v: Node | string) => {
    const dd = el('dd');
    dd.append(v);
    facts.append(el('dt', '', k), dd);
  };
  fact('Vehicle', run.plan.vehicleId);
  fact('State', enumWord(run.state, 'RUN_STATE_'));
  fact('Plan version', String(run.version));
  fact('Dispatched by', run.dispatchedBy || '—');
  fact('Started', timeElement(run.startedTime, true));
  fact('Ended', timeElement(run.endedTime, true));
  fact('Distance', `${(report.distanceM / 1000).toFixed(1)} km of ${(report.plannedDistanceM / 1000).toFixed(1)} km planned`);
  fact('Off route', `${durationWords(report.offRouteS)}, ${Math.round(report.offRouteDistanceM)} m`);
  fact('Fixes', report.fixes);
  root.append(facts);
  if (auditHref) {
    const a = el('a', 'button-link', 'Audit this run');
    a.href = auditHref;
    root.append(a);
  }
  root.append(el('h3', '', 'Plan against actual'), stopsTable(report.stops ?? []));
  root.append(el('h3', '', 'Timeline'));
  let records: StoredRecord[] = [];
  try {
    records = await readTrack<StoredRecord>(runId);
  } catch {
    root.append(el('p', 'note', 'Track not readable with your role: alerts only.'));
  }
  root.append(timeline(records, report.alerts ?? []));
  return root;
}

function planTable(run: Run): HTMLElement {
  const t = el('table', 'stops-table');
  const h = el('tr');
  for (const c of ['Stop', 'Name', 'Window']) h.append(el('th', '', c));
  t.append(h);
  for (const s of run.plan.stops ?? []) {
    const tr = el('tr');
    const w = el('td');
    w.append(timeElement(s.arrivalEarliest), ' – ', timeElement(s.arrivalLatest));
    tr.append(el('td', '', s.stopId), el('td', '', s.name), w);
    t.append(tr);
  }
  return t;
}

function stopsTable(stops: StopReport[]): HTMLElement {
  const t = el('table', 'stops-table');
  const thead = el('thead');
  const h = el('tr');
  for (const c of ['Stop', 'Name', 'Window', 'Arrived', 'Departed', 'Dwell', 'Status', 'Punctuality', 'Doors']) h.append(el('th', '', c));
  thead.append(h);
  const tbody = el('tbody');
  t.append(thead, tbody);
  for (const s of stops) {
    const tr = el('tr', `stop-row stop-${enumWord(s.status, 'STOP_STATUS_')}`);
    tr.dataset.stopId = s.stopId;
    const window = el('td');
    window.append(timeElement(s.arrivalEarliest), ' – ', timeElement(s.arrivalLatest));
    const arrived = el('td');
    arrived.append(timeElement(s.arrived));
    const departed = el('td');
    departed.append(timeElement(s.departed));
    const a = parseTime(s.arrived);
    const latest = parseTime(s.arrivalLatest);
    const earliest = parseTime(s.arrivalEarliest);
    let punct = '';
    if (a && latest && s.late) punct = lateness((a.getTime() - latest.getTime()) / 1000);
    else if (a && earliest && s.early) punct = lateness((a.getTime() - earliest.getTime()) / 1000);
    else if (a) punct = 'on time';
    else if (latest && Date.now() > latest.getTime()) punct = lateness((Date.now() - latest.getTime()) / 1000);
    const flags = [punct, s.outOfOrder ? 'out of order' : ''].filter(Boolean).join(', ');
    tr.append(el('td', '', s.stopId), el('td', '', s.name), window, arrived, departed, el('td', '', s.dwellS ? durationWords(s.dwellS) : ''), el('td', 'status', enumWord(s.status, 'STOP_STATUS_')), el('td', s.late ? 'late' : '', flags), el('td', '', String(s.doorOpenings ?? 0)));
    tbody.append(tr);
  }
  return t;
}

interface TimelineItem {
  t: number;
  time: string;
  kind: string;
  text: string;
}

function describe(r: TrackRecord): string | null {
  if (r.door) return `door ${r.door.door} ${enumWord(r.door.state, 'DOOR_STATE_')}`;
  if (r.seal) return `seal ${r.seal.seal} ${enumWord(r.seal.state, 'SEAL_STATE_')}`;
  if (r.panic) return `panic (${r.panic.source || 'input'})`;
  if (r.crew) return `crew ${r.crew.badgeId} ${enumWord(r.crew.action, 'CREW_ACTION_')}`;
  if (r.gnss) return `GNSS ${enumWord(r.gnss.state, 'GNSS_STATE_')}${r.gnss.detail ? `: ${r.gnss.detail}` : ''}`;
  return null;
}

// Events that matter, in time order: the first and last fix, every non-fix record, every alert
// and each of its lifecycle steps. Fixes in between are summarised, not listed.
function timeline(records: StoredRecord[], alerts: Alert[]): HTMLElement {
  const items: TimelineItem[] = [];
  const fixes = records.filter((r) => r.record.fix);
  const push = (time: string | undefined, kind: string, text: string) => {
    const d = parseTime(time);
    if (d) items.push({ t: d.getTime(), time: time!, kind, text });
  };
  if (fixes.length) {
    push(fixes[0].record.eventTime, 'record', `first fix (${fixes.length} fixes in all)`);
    push(fixes[fixes.length - 1].record.eventTime, 'record', 'last fix');
  }
  for (const r of records) {
    const d = describe(r.record);
    if (d) push(r.record.eventTime, 'record', `#${r.record.seq} ${d}`);
  }
  for (const a of alerts) {
    push(a.eventTime, `alert sev-${enumWord(a.severity, 'SEVERITY_')}`, `${enumWord(a.kind, 'ALERT_KIND_')} ${a.subject}: ${a.details}${a.delayed ? ` (delayed ${durationWords(a.delayS ?? 0)})` : ''}`);
    for (const act of a.actions ?? []) {
      push(act.time, 'action', `alert ${a.alertId} ${enumWord(act.state, 'ALERT_STATE_')} by ${act.actor}${act.comment ? `: “${act.comment}”` : ''}`);
    }
  }
  items.sort((a, b) => a.t - b.t);
  const ol = el('ol', 'timeline');
  for (const it of items) {
    const li = el('li', `tl-${it.kind.split(' ')[0]} ${it.kind}`);
    li.append(timeElement(it.time, true), el('span', 'tl-text', it.text));
    ol.append(li);
  }
  if (!items.length) ol.append(el('li', 'empty', 'Nothing recorded yet.'));
  return ol;
}
