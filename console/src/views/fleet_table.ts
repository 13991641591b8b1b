// The fleet table: sortable, filterable, 500 vehicles. Only the rows in view are in the DOM
// (fixed row height, a spacer keeps the scroll bar honest), re-rendered at most once a frame.
import { el, enumWord, lateness, parseTime } from '../format';
import { FleetStore, openAlertsOf, speedOf, vehicleStateClass } from '../live/fleet_store';
import { VehicleState } from '../types';

const ROW_PX = 30;

interface Column {
  key: string;
  title: string;
  value: (v: VehicleState) => string | number;
  cell?: (v: VehicleState, td: HTMLTableCellElement) => void;
}

function etaSeconds(v: VehicleState): number {
  const t = parseTime(v.nextStopEta);
  return t ? t.getTime() : Number.POSITIVE_INFINITY;
}

const COLUMNS: Column[] = [
  { key: 'vehicle', title: 'Vehicle', value: (v) => v.vehicleId },
  { key: 'run', title: 'Run', value: (v) => v.runId ?? '' },
  {
    key: 'state',
    title: 'State',
    value: (v) => `${vehicleStateClass(v)} ${enumWord(v.runState, 'RUN_STATE_')}`,
    cell: (v, td) => {
      td.append(el('span', `dot state-${vehicleStateClass(v)}`), document.createTextNode(v.runId ? enumWord(v.runState, 'RUN_STATE_') : 'no run'));
    },
  },
  { key: 'next', title: 'Next stop', value: (v) => v.nextStopName || v.nextStopId || '' },
  {
    key: 'eta',
    title: 'ETA',
    value: (v) => etaSeconds(v),
    cell: (v, td) => {
      const t = parseTime(v.nextStopEta);
      if (!t) return;
      const time = el('time', '', t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false, timeZoneName: 'short' }));
      time.title = t.toISOString();
      td.append(time);
      if (v.nextStopLate) td.append(el('span', 'late-flag', ' late'));
    },
  },
  {
    key: 'alerts',
    title: 'Alerts (C/H/M/L)',
    value: (v) => {
      const a = openAlertsOf(v);
      return a.critical * 1e9 + a.high * 1e6 + a.medium * 1e3 + a.low;
    },
    cell: (v, td) => {
      const a = openAlertsOf(v);
      for (const [k, n] of [['critical', a.critical], ['high', a.high], ['medium', a.medium], ['low', a.low]] as const) {
        td.append(el('span', `count sev-${k}${n ? '' : ' zero'}`, String(n)));
      }
    },
  },
  { key: 'gnss', title: 'GNSS', value: (v) => enumWord(v.gnssState, 'GNSS_STATE_') },
  {
    key: 'link',
    title: 'Link',
    value: (v) => (v.connected ? 0 : 1e9) + (v.lastSeenAgeS ?? 0),
    cell: (v, td) => {
      td.textContent = v.connected ? 'connected' : `offline${v.lastSeenAgeS ? ` (${lateness(v.lastSeenAgeS).replace(' late', '')})` : ''}`;
      td.classList.toggle('offline', !v.connected);
    },
  },
  {
    key: 'speed',
    title: 'km/h',
    value: (v) => speedOf(v) ?? -1,
    cell: (v, td) => {
      const s = speedOf(v);
      td.textContent = s === undefined ? '' : String(Math.round(s * 3.6));
    },
  },
];

export class FleetTable {
  readonly root = el('section', 'fleet');
  private readonly filter = el('input', 'fleet-filter');
  private readonly count = el('span', 'fleet-count');
  private readonly scroller = el('div', 'fleet-scroll');
  private readonly spacer = el('div', 'fleet-spacer');
  private readonly table = el('table', 'fleet-table');
  private readonly tbody = el('tbody');
  private sortKey = 'vehicle';
  private sortDesc = false;
  private frame = 0;
  private rowsCache: VehicleState[] = [];
  onSelect: (id: string) => void = () => {};

  constructor(private readonly fleet: FleetStore) {
    this.filter.type = 'search';
    this.filter.placeholder = 'Filter: vehicle, run, state, stop…';
    this.filter.addEventListener('input', () => this.schedule());
    const bar = el('div', 'fleet-bar');
    bar.append(el('h2', '', 'Fleet'), this.filter, this.count);
    const thead = el('thead');
    const tr = el('tr');
    for (const c of COLUMNS) {
      const th = el('th', '', c.title);
      th.dataset.key = c.key;
      th.addEventListener('click', () => {
        this.sortDesc = this.sortKey === c.key ? !this.sortDesc : false;
        this.sortKey = c.key;
        this.schedule();
      });
      tr.append(th);
    }
    thead.append(tr);
    this.table.append(thead, this.tbody);
    this.spacer.append(this.table);
    this.scroller.append(this.spacer);
    this.root.append(bar, this.scroller);
    this.scroller.addEventListener('scroll', () => this.schedule());
    fleet.subscribe(() => this.schedule());
  }

  schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private rows(): VehicleState[] {
    const q = this.filter.value.trim().toLowerCase();
    const col = COLUMNS.find((c) => c.key === this.sortKey) ?? COLUMNS[0];
    let rows = this.fleet.all();
    if (q) {
      rows = rows.filter((v) =>
        [v.vehicleId, v.runId, vehicleStateClass(v), enumWord(v.runState, 'RUN_STATE_'), v.nextStopId, v.nextStopName, enumWord(v.gnssState, 'GNSS_STATE_')]
          .some((s) => (s ?? '').toLowerCase().includes(q)),
      );
    }
    const dir = this.sortDesc ? -1 : 1;
    return rows.sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      return (x < y ? -1 : x > y ? 1 : a.vehicleId < b.vehicleId ? -1 : 1) * dir;
    });
  }

  private render(): void {
    this.frame = 0;
    if (!this.root.isConnected) return;
    this.rowsCache = this.rows();
    const n = this.rowsCache.length;
    this.count.textContent = `${n} of ${this.fleet.all().length} vehicles`;
    for (const th of this.table.querySelectorAll('th')) {
      th.classList.toggle('sorted', th.dataset.key === this.sortKey);
      th.classList.toggle('desc', th.dataset.key === this.sortKey && this.sortDesc);
    }
    const view = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_PX) - 5);
    const last = Math.min(n, first + Math.ceil(view / ROW_PX) + 10);
    this.spacer.style.height = `${(n + 1) * ROW_PX}px`;
    this.table.style.transform = `translateY(${first * ROW_PX}px)`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) frag.append(this.row(this.rowsCache[i]));
    this.tbody.replaceChildren(frag);
  }

  private row(v: VehicleState): HTMLTableRowElement {
    const tr = el('tr', `state-${vehicleStateClass(v)}`);
    tr.dataset.vehicleId = v.vehicleId;
    for (const c of COLUMNS) {
      const td = el('td');
      if (c.cell) c.cell(v, td);
      else td.textContent = String(c.value(v));
      tr.append(td);
    }
    tr.addEventListener('click', () => this.onSelect(v.vehicleId));
    return tr;
  }
}
