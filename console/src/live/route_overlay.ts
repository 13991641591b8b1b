// What the map shows for the selected vehicle's run: the plan (GetRun), stop statuses from the
// run report (GetRunReport) when the role may read it, else derived from the live next stop,
// and the stored track when the role may read it (GetTrack).
import { readTrack, rpc } from '../api';
import { lateness, parseTime } from '../format';
import { Run, RunReport, Stop, StopReport, StoredRecord, VehicleState } from '../types';
import { RouteOverlay, StopOverlay, StopStatus } from './map_view';

export async function loadRouteOverlay(v: VehicleState): Promise<RouteOverlay | null> {
  if (!v.runId) return null;
  const run = await rpc<Run>('cit.v1.Dispatch', 'GetRun', { runId: v.runId });
  const plan = run.plan;
  const stops = await stopStatuses(run, v);
  let track: Array<[number, number]> = [];
  try {
    track = (await readTrack<StoredRecord>(v.runId))
      .filter((r) => r.record.fix)
      .map((r) => [r.record.fix!.latDeg, r.record.fix!.lonDeg] as [number, number]);
  } catch {
    // Operators may not read stored tracks: the map shows the live trail instead.
  }
  return {
    runId: plan.runId,
    points: plan.route?.points ?? [],
    halfWidthM: plan.route?.corridorHalfWidthM || 150,
    stops,
    track,
  };
}

export async function stopStatuses(run: Run, v: VehicleState): Promise<StopOverlay[]> {
  const planStops = run.plan.stops ?? [];
  let report: RunReport | null = null;
  try {
    report = await rpc<RunReport>('cit.v1.Audit', 'GetRunReport', { runId: run.plan.runId });
  } catch {
    report = null;
  }
  const now = Date.now();
  return planStops
    .filter((s) => s.position)
    .map((s, i) => {
      const r = report?.stops?.find((x) => x.stopId === s.stopId);
      const { status, note } = r ? fromReport(r, now) : derived(planStops, i, v, now);
      return { stopId: s.stopId, name: s.name, position: s.position!, radiusM: s.radiusM || 50, status, note };
    });
}

function pastLatest(latest: string | undefined, now: number): number | null {
  const d = parseTime(latest);
  return d && now > d.getTime() ? (now - d.getTime()) / 1000 : null;
}

export function fromReport(r: StopReport, now: number): { status: StopStatus; note: string } {
  const arrivedLate = () => {
    const a = parseTime(r.arrived);
    const l = parseTime(r.arrivalLatest);
    return a && l && r.late ? lateness((a.getTime() - l.getTime()) / 1000) : '';
  };
  switch (r.status) {
    case 'STOP_STATUS_ARRIVED':
      return { status: 'arrived', note: arrivedLate() };
    case 'STOP_STATUS_DEPARTED':
      return { status: 'departed', note: arrivedLate() };
    case 'STOP_STATUS_MISSED':
    case 'STOP_STATUS_SKIPPED':
      return { status: 'missed', note: r.status === 'STOP_STATUS_SKIPPED' ? 'skipped' : '' };
    default: {
      const late = pastLatest(r.arrivalLatest, now);
      return late !== null || r.late ? { status: 'late', note: late !== null ? lateness(late) : 'late' } : { status: 'pending', note: '' };
    }
  }
}

// Without the report: stops before the next stop are behind the truck (departed), the next
// stop is arrived when the truck is inside its zone, late past its window.
function derived(stops: Stop[], i: number, v: VehicleState, now: number): { status: StopStatus; note: string } {
  const next = v.nextStopId ? stops.findIndex((s) => s.stopId === v.nextStopId) : -1;
  const finished = v.runState === 'RUN_STATE_COMPLETED' || v.runState === 'RUN_STATE_ABORTED';
  if ((next >= 0 && i < next) || (next < 0 && finished)) return { status: 'departed', note: '' };
  const s = stops[i];
  const f = v.lastFix;
  if (i === next && f && s.position && distanceM(f.latDeg, f.lonDeg, s.position.latDeg, s.position.lonDeg) <= (s.radiusM || 50)) {
    return { status: 'arrived', note: '' };
  }
  const late = pastLatest(s.arrivalLatest, now);
  return late !== null ? { status: 'late', note: lateness(late) } : { status: 'pending', note: '' };
}

function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(a));
}
