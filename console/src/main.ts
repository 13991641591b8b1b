// citwatch operator console: sign-in, then the live view (alert board + map), fleet table,
// runs and audit, switched by the URL hash. Live data comes from two SSE streams (alerts,
// fleet) that resume after a disconnect or a server restart.
import './style.css';
import { ConsoleConfig, loadConfig, onUnauthenticated, rpc } from './api';
import { el, timeZoneName } from './format';
import { Alarm } from './live/alarm';
import { AlertStore } from './live/alert_store';
import { Board } from './live/board';
import { FleetStore, setAlertCounter } from './live/fleet_store';
import { MapView } from './live/map_view';
import { loadRouteOverlay } from './live/route_overlay';
import { SseStream, StreamStatus } from './live/sse';
import { canAcknowledge, canAudit, currentSession, Session, signOut } from './session';
import { signInForm } from './signin';
import { Alert, AlertEvent, VehicleState } from './types';
import { alertView } from './views/alert_view';
import { auditView } from './views/audit_view';
import { FleetTable } from './views/fleet_table';
import { reportView } from './views/report_view';
import { runList, runView } from './views/run_view';

declare global {
  interface Window {
    // For tests and debugging in the browser console.
    cit?: { map: MapView; alerts: AlertStore; fleet: FleetStore; alarm: Alarm; session: Session };
  }
}

const app = document.getElementById('app')!;

async function start(): Promise<void> {
  const cfg = await loadConfig();
  const session = await currentSession();
  if (session) new Console(cfg, session);
  else showSignIn(cfg, '');
}

function showSignIn(cfg: ConsoleConfig, notice: string, after?: (s: Session) => void): void {
  document.title = 'citwatch — sign in';
  app.replaceChildren(
    signInForm(cfg.serverName, notice, (s) => {
      if (after) after(s);
      else new Console(cfg, s);
    }),
  );
}

class Console {
  private readonly alerts = new AlertStore();
  private readonly fleet = new FleetStore();
  private readonly alarm = new Alarm();
  private readonly main = el('main', 'content');
  private readonly live = el('div', 'live');
  private readonly status = el('span', 'stream-status');
  private readonly sound = el('button', 'sound');
  private readonly toast = el('div', 'toast');
  private readonly board: Board;
  private readonly map: MapView;
  private readonly fleetTable: FleetTable;
  private readonly alertStream: SseStream;
  private readonly fleetStream: SseStream;
  private selectedVehicle = '';
  private routeTimer: number | undefined;
  private shell = el('div', 'shell');
  private streamState: Record<string, StreamStatus> = {};
  private signedOut = false;

  constructor(
    private readonly cfg: ConsoleConfig,
    private session: Session,
  ) {
    this.board = new Board({
      store: this.alerts,
      canAcknowledge: canAcknowledge(session.role),
      onSelect: (a) => this.onAlertSelected(a),
      onError: (m) => this.showError(m),
    });
    app.replaceChildren(this.shell);
    this.shell.append(this.header(), this.main, this.toast);
    this.live.append(this.board.root);
    this.main.append(this.live);
    this.map = new MapView(this.live, cfg, this.fleet);
    this.map.onVehicleClick = (id) => this.selectVehicle(id);
    this.fleetTable = new FleetTable(this.fleet);
    this.fleetTable.onSelect = (id) => {
      location.hash = '#/live';
      this.selectVehicle(id);
      this.map.focusVehicle(id);
    };
    window.cit = { map: this.map, alerts: this.alerts, fleet: this.fleet, alarm: this.alarm, session };

    this.alerts.subscribe(() => this.onAlertsChanged());
    setAlertCounter((id) => this.alerts.countsFor(id));
    this.alarm.subscribe(() => this.renderSound());
    this.fleet.subscribe((changed) => this.onFleetChanged(changed));

    // Events arrive in bursts (a replay of open alerts, a resumed backlog): apply them per
    // task, not one board pass each.
    let batch: AlertEvent[] = [];
    const flush = () => {
      const b = batch;
      batch = [];
      this.alerts.apply(b);
    };
    this.alertStream = new SseStream({
      // The cursor is the resume token of the last event (any instance of the database), or
      // an event id from an older server.
      url: (cursor) =>
        `/api/v1/cit.v1.Alerts/WatchAlerts${
          cursor ? `?${/^\d+$/.test(cursor) ? 'afterEventId' : 'resumeToken'}=${encodeURIComponent(cursor)}` : ''
        }`,
      event: 'alert',
      onData: (data) => {
        if (!batch.length) queueMicrotask(flush);
        batch.push(JSON.parse(data) as AlertEvent);
      },
      onStatus: (s) => this.onStreamStatus('alerts', s),
      onClosed: () => void this.recover('alerts'),
    });
    let fleetBatch: VehicleState[] = [];
    this.fleetStream = new SseStream({
      url: () => '/api/v1/cit.v1.Dispatch/WatchFleet',
      event: 'vehicle',
      onData: (data) => {
        if (!fleetBatch.length) {
          queueMicrotask(() => {
            const b = fleetBatch;
            fleetBatch = [];
            this.fleet.apply(b);
          });
        }
        fleetBatch.push(JSON.parse(data) as VehicleState);
      },
      onStatus: (s) => this.onStreamStatus('fleet', s),
      onClosed: () => void this.recover('fleet'),
    });
    onUnauthenticated(() => void this.recover());
    this.alertStream.open();
    this.fleetStream.open();
    window.addEventListener('hashchange', () => void this.route());
    void this.route();
    this.renderSound();
    this.onAlertsChanged();
  }

  private header(): HTMLElement {
    const h = el('header', 'topbar');
    const nav = el('nav');
    const links: Array<[string, string]> = [['#/live', 'Live'], ['#/fleet', 'Fleet'], ['#/runs', 'Runs']];
    if (canAudit(this.session.role)) links.push(['#/audit', 'Audit'], ['#/reports', 'Reports']);
    for (const [href, text] of links) {
      const a = el('a', '', text);
      a.href = href;
      a.dataset.route = href.slice(2);
      nav.append(a);
    }
    const who = el('span', 'who', `${this.session.name} (${this.session.role})`);
    who.dataset.role = this.session.role;
    const tz = el('span', 'tz', `times in ${timeZoneName()}`);
    tz.title = 'hover a time to see it in UTC';
    this.sound.type = 'button';
    this.sound.addEventListener('click', () => this.alarm.setMuted(!this.alarm.isMuted()));
    const out = el('button', 'signout', 'Sign out');
    out.type = 'button';
    out.addEventListener('click', () => void this.signOut());
    h.append(el('span', 'brand', this.cfg.serverName ? `citwatch · ${this.cfg.serverName}` : 'citwatch'), nav, this.status, this.sound, tz, who, out);
    return h;
  }

  private async route(): Promise<void> {
    const hash = location.hash || '#/live';
    const [, view, arg] = hash.split('/');
    for (const a of this.shell.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.route === view);
    try {
      if (view === 'fleet') {
        this.main.replaceChildren(this.fleetTable.root);
        this.fleetTable.schedule();
      } else if (view === 'runs') {
        const audit = canAudit(this.session.role);
        this.main.replaceChildren(el('p', 'loading', 'Loading…'));
        this.main.replaceChildren(arg ? await runView(decodeURIComponent(arg), audit ? `#/audit/${arg}` : null) : await runList((id) => `#/runs/${encodeURIComponent(id)}`));
      } else if (view === 'alerts' && arg) {
        this.main.replaceChildren(el('p', 'loading', 'Loading…'));
        this.main.replaceChildren(await alertView(decodeURIComponent(arg), this.alerts, (id) => `#/runs/${encodeURIComponent(id)}`));
      } else if (view === 'reports' && canAudit(this.session.role)) {
        this.main.replaceChildren(reportView());
      } else if (view === 'audit') {
        this.main.replaceChildren(el('p', 'loading', 'Loading…'));
        this.main.replaceChildren(arg ? await auditView(decodeURIComponent(arg), this.cfg) : await runList((id) => `#/audit/${encodeURIComponent(id)}`));
      } else {
        if (!this.live.isConnected) this.main.replaceChildren(this.live);
        this.map.invalidate();
      }
    } catch (e) {
      this.main.replaceChildren(el('p', 'error', `Could not load this view: ${(e as Error).message}`));
    }
  }

  private onStreamStatus(which: string, s: StreamStatus): void {
    this.streamState[which] = s;
    this.status.dataset[which] = s;
    if (s === 'live') delete this.retryDelayMs[which];
    const states = Object.values(this.streamState);
    const live = states.length === 2 && states.every((x) => x === 'live');
    this.status.textContent = live ? 'live' : states.includes('closed') ? 'disconnected' : 'reconnecting…';
    this.status.className = `stream-status ${live ? 'ok' : 'bad'}`;
  }

  // A stream was refused (HTTP error) or a call answered 401: if the session is gone (expired,
  // or the server restarted and forgot it), sign in again and resume from the last event seen.
  private recovering = false;
  private retryDelayMs: Record<string, number> = {};
  private async recover(which?: 'alerts' | 'fleet'): Promise<void> {
    if (this.signedOut) return;
    if (which) {
      // The session may be fine and only this stream refused (the server restarting, or an
      // older server without WatchFleet): retry it alone, backing off up to 15 s; meanwhile the
      // fleet is polled with GetFleet.
      const s = await currentSession();
      if (s) {
        this.session = s;
        const delay = (this.retryDelayMs[which] = Math.min(15000, (this.retryDelayMs[which] ?? 500) * 2));
        if (which === 'fleet') this.pollFleet();
        window.setTimeout(() => (which === 'alerts' ? this.alertStream : this.fleetStream).open(), delay);
        return;
      }
    }
    if (this.recovering) return;
    this.recovering = true;
    try {
      const s = await currentSession();
      if (s) {
        this.session = s;
        return;
      }
      this.alertStream.close();
      this.fleetStream.close();
      const keep = this.shell;
      showSignIn(this.cfg, 'Your session ended: sign in again to continue.', (s2) => {
        this.session = s2;
        app.replaceChildren(keep);
        this.reopenStreams();
        this.map.invalidate();
      });
    } finally {
      this.recovering = false;
    }
  }

  private polling = 0;
  private pollFleet(): void {
    if (this.polling) return;
    const tick = async () => {
      try {
        const f = await rpc<{ vehicles: VehicleState[] }>('cit.v1.Dispatch', 'GetFleet', {});
        this.fleet.apply(f.vehicles ?? []);
      } catch {
        // the stream or the next tick will tell
      }
      this.polling = this.streamState.fleet === 'live' || this.signedOut ? 0 : window.setTimeout(tick, 2000);
    };
    this.polling = window.setTimeout(tick, 0);
  }

  private reopenStreams(): void {
    this.alertStream.open();
    this.fleetStream.open();
  }

  private async signOut(): Promise<void> {
    this.signedOut = true;
    this.alertStream.close();
    this.fleetStream.close();
    this.alarm.setActive(false);
    try {
      await signOut();
    } finally {
      location.hash = '';
      location.reload();
    }
  }

  // Title and alarm follow the board once per frame, not once per event (a replay of 1,000
  // open alerts arrives as 1,000 events).
  private titleFrame = 0;
  private onAlertsChanged(): void {
    if (!this.titleFrame) {
      this.titleFrame = requestAnimationFrame(() => {
        this.titleFrame = 0;
        this.updateTitleAndAlarm();
      });
    }
  }

  private updateTitleAndAlarm(): void {
    const n = this.alerts.unacknowledged();
    document.title = n ? `(${n}) citwatch` : 'citwatch';
    this.alarm.setActive(this.alerts.unacknowledgedCritical() > 0);
  }

  private renderSound(): void {
    const muted = this.alarm.isMuted();
    this.sound.textContent = muted ? 'Sound muted' : this.alarm.needsGesture() ? 'Click to enable sound' : 'Sound on';
    this.sound.title = muted ? 'The critical-alert alarm is muted: click to unmute' : 'Click to mute the critical-alert alarm';
    this.sound.className = `sound${muted ? ' muted' : ''}${this.alarm.isSounding() ? ' sounding' : ''}`;
  }

  private onAlertSelected(a: Alert): void {
    if (location.hash && location.hash !== '#/live') location.hash = '#/live';
    if (a.position && (a.position.latDeg || a.position.lonDeg)) this.map.focus(a.position);
    if (a.vehicleId) this.selectVehicle(a.vehicleId);
  }

  private selectVehicle(id: string): void {
    if (id === this.selectedVehicle) return;
    this.selectedVehicle = id;
    this.map.selectVehicle(id);
    void this.refreshRoute(true);
  }

  private lastNextStop = '';
  private onFleetChanged(changed: VehicleState[]): void {
    const v = changed.find((x) => x.vehicleId === this.selectedVehicle);
    if (v && (v.nextStopId ?? '') !== this.lastNextStop) void this.refreshRoute(false);
  }

  // The selected vehicle's corridor, stops and track; stop statuses refreshed as it drives.
  private async refreshRoute(full: boolean): Promise<void> {
    window.clearTimeout(this.routeTimer);
    const v = this.fleet.get(this.selectedVehicle);
    if (!v) return;
    this.lastNextStop = v.nextStopId ?? '';
    try {
      const r = await loadRouteOverlay(v);
      if (v.vehicleId !== this.selectedVehicle) return;
      if (full || !r) this.map.showRoute(r);
      else this.map.updateStops(r.stops);
    } catch (e) {
      this.showError(`Could not load the run of ${v.vehicleId}: ${(e as Error).message}`);
    }
    this.routeTimer = window.setTimeout(() => void this.refreshRoute(false), 5000);
  }

  private showError(m: string): void {
    this.toast.textContent = m;
    this.toast.classList.add('shown');
    window.setTimeout(() => this.toast.classList.remove('shown'), 6000);
  }
}

void start();
