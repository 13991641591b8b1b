// The alerts the board shows: every alert not yet resolved, keyed by id, the newest revision
// wins (a resumed stream may repeat an event; each alert still appears exactly once).
import { Alert, AlertEvent, SEVERITY_RANK } from '../types';

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  total: number;
}

function count(c: SeverityCounts, a: Alert, d: number): void {
  const k = a.severity.replace('SEVERITY_', '').toLowerCase();
  if (k === 'critical' || k === 'high' || k === 'medium' || k === 'low') c[k] += d;
  c.total += d;
}

export type AlertListener = (changed: Alert[]) => void;

export class AlertStore {
  private readonly alerts = new Map<string, Alert>();
  private readonly listeners: AlertListener[] = [];
  private readonly byVehicle = new Map<string, SeverityCounts>();

  // Returns the function that unsubscribes.
  subscribe(fn: AlertListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  apply(events: AlertEvent[]): void {
    const changed: Alert[] = [];
    for (const ev of events) {
      const a = ev.alert;
      if (!a || !a.alertId) continue;
      const old = this.alerts.get(a.alertId);
      if (old && (old.revision ?? 0) > (a.revision ?? 0)) continue;
      const cached = this.byVehicle.get(a.vehicleId);
      if (cached && old) count(cached, old, -1);
      if (cached && a.state !== 'ALERT_STATE_RESOLVED') count(cached, a, 1);
      if (a.state === 'ALERT_STATE_RESOLVED') this.alerts.delete(a.alertId);
      else this.alerts.set(a.alertId, a);
      changed.push(a);
    }
    if (changed.length) for (const fn of [...this.listeners]) fn(changed);
  }

  get(id: string): Alert | undefined {
    return this.alerts.get(id);
  }

  size(): number {
    return this.alerts.size;
  }

  // Severity (critical first), then age (oldest first: it has waited longest), then id.
  sorted(): Alert[] {
    // Sort keys computed once per alert, not once per comparison.
    const keyed = [...this.alerts.values()].map((a) => ({
      a,
      sev: SEVERITY_RANK[a.severity] ?? 0,
      t: Date.parse(a.eventTime ?? '') || 0,
      id: BigInt(a.alertId || '0'),
    }));
    keyed.sort((x, y) => y.sev - x.sev || x.t - y.t || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return keyed.map((k) => k.a);
  }

  unacknowledged(): number {
    let n = 0;
    for (const a of this.alerts.values()) if (a.state === 'ALERT_STATE_OPEN') n++;
    return n;
  }

  unacknowledgedCritical(): number {
    let n = 0;
    for (const a of this.alerts.values()) {
      if (a.state === 'ALERT_STATE_OPEN' && a.severity === 'SEVERITY_CRITICAL') n++;
    }
    return n;
  }

  // Open (not resolved) alerts of one vehicle by severity, kept as events arrive.
  countsFor(vehicleId: string): SeverityCounts {
    let c = this.byVehicle.get(vehicleId);
    if (!c) {
      c = { critical: 0, high: 0, medium: 0, low: 0, total: 0 };
      for (const a of this.alerts.values()) if (a.vehicleId === vehicleId) count(c, a, 1);
      this.byVehicle.set(vehicleId, c);
    }
    return c;
  }

  clear(): void {
    this.byVehicle.clear();
    this.alerts.clear();
    for (const fn of [...this.listeners]) fn([]);
  }
}

export function compareAlerts(a: Alert, b: Alert): number {
  const s = (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0);
  if (s) return s;
  const ta = Date.parse(a.eventTime ?? '') || 0;
  const tb = Date.parse(b.eventTime ?? '') || 0;
  if (ta !== tb) return ta - tb;
  return a.alertId.length - b.alertId.length || (a.alertId < b.alertId ? -1 : 1);
}
