// The fleet as the WatchFleet stream describes it, plus a short local trail per vehicle (the
// recent track for operators, whose role may not read stored tracks).
import { VehicleState } from '../types';

const TRAIL_POINTS = 240;

export type FleetListener = (changed: VehicleState[]) => void;

export class FleetStore {
  private readonly vehicles = new Map<string, VehicleState>();
  private readonly trails = new Map<string, Array<[number, number]>>();
  private readonly listeners: FleetListener[] = [];

  subscribe(fn: FleetListener): void {
    this.listeners.push(fn);
  }

  apply(states: VehicleState[]): void {
    for (const v of states) {
      this.vehicles.set(v.vehicleId, v);
      const f = v.lastFix;
      if (f && Number.isFinite(f.latDeg) && Number.isFinite(f.lonDeg)) {
        let t = this.trails.get(v.vehicleId);
        if (!t) this.trails.set(v.vehicleId, (t = []));
        const last = t[t.length - 1];
        if (!last || last[0] !== f.latDeg || last[1] !== f.lonDeg) t.push([f.latDeg, f.lonDeg]);
        if (t.length > TRAIL_POINTS) t.splice(0, t.length - TRAIL_POINTS);
      }
    }
    for (const fn of this.listeners) fn(states);
  }

  get(id: string): VehicleState | undefined {
    return this.vehicles.get(id);
  }
  all(): VehicleState[] {
    return [...this.vehicles.values()];
  }
  trail(id: string): Array<[number, number]> {
    return this.trails.get(id) ?? [];
  }
}

export function headingOf(v: VehicleState): number | undefined {
  return v.headingDeg ?? v.lastFix?.trackDeg;
}
export function speedOf(v: VehicleState): number | undefined {
  return v.speedMps ?? v.lastFix?.speedMps;
}

type Counts = { critical: number; high: number; medium: number; low: number; total: number };
let alertCounter: ((vehicleId: string) => Counts) | null = null;

// The console's own alert store knows every open alert: it counts them per vehicle live.
export function setAlertCounter(fn: (vehicleId: string) => Counts): void {
  alertCounter = fn;
}

export function openAlertsOf(v: VehicleState): Counts {
  if (alertCounter) return alertCounter(v.vehicleId);
  const critical = v.openAlertsCritical ?? 0;
  const high = v.openAlertsHigh ?? 0;
  const medium = v.openAlertsMedium ?? 0;
  const low = v.openAlertsLow ?? 0;
  const sum = critical + high + medium + low;
  return { critical, high, medium, low, total: Math.max(sum, v.openAlerts ?? 0) };
}

// The colour class of a vehicle on the map and in the table.
export function vehicleStateClass(v: VehicleState): string {
  if (openAlertsOf(v).critical > 0) return 'alarm';
  if (v.connected === false) return 'offline';
  if (openAlertsOf(v).total > 0) return 'warning';
  if (!v.runId) return 'idle';
  return v.moving ? 'moving' : 'stopped';
}
