// The protobuf JSON mapping of the cit.v1 messages the console reads (proto/cit/v1/*.proto).
// uint64/int64 fields arrive as strings; Timestamps as RFC 3339 strings; enums as names.

export interface Position {
  latDeg: number;
  lonDeg: number;
}

export interface AlertAction {
  state: string;
  actor: string;
  comment: string;
  time?: string;
}

export interface Alert {
  alertId: string;
  vehicleId: string;
  runId: string;
  kind: string;
  subject: string;
  severity: string;
  eventTime?: string;
  detectedTime?: string;
  position?: Position;
  details: string;
  state: string;
  delayed: boolean;
  delaySeconds?: number;
  delayS?: number;
  occurrences: number;
  // Event time of the latest occurrence (absent from alerts stored before the field existed).
  lastEventTime?: string;
  occurrenceTimes?: string[];
  escalationStep?: number;
  // Steps of the server's escalation policy gone through while nobody acknowledged it.
  policyStep?: number;
  conditionClearedTime?: string;
  actions: AlertAction[];
  recordSeq: string;
  revision: number;
}

export interface AlertEvent {
  eventId: string;
  // WatchAlerts: where to resume after this event, on any instance (the SSE id carries it too).
  resumeToken?: string;
  alert: Alert;
  // ALERT_EVENT_TYPE_RAISED ... (absent or UNSPECIFIED in a stream's replay of open alerts).
  type?: string;
  actor?: string;
  comment?: string;
  // When the server made the event (absent in events stored before the field existed).
  time?: string;
}

export interface ListAlertEventsResponse {
  alert: Alert;
  events?: AlertEvent[];
  updatedOmitted?: string;
  eventsOmitted?: string;
}

export interface Fix {
  latDeg: number;
  lonDeg: number;
  speedMps?: number;
  trackDeg?: number;
  mode?: string;
}

export interface VehicleState {
  vehicleId: string;
  lastFix?: Fix;
  lastFixTime?: string;
  lastFixAgeS?: number;
  lastSeenAgeS?: number;
  connected?: boolean;
  runId?: string;
  runState?: string;
  progressM?: number;
  progressFraction?: number;
  nextStopId?: string;
  nextStopName?: string;
  nextStopEta?: string;
  nextStopLate?: boolean;
  openAlerts?: number;
  openAlertsCritical?: number;
  openAlertsHigh?: number;
  openAlertsMedium?: number;
  openAlertsLow?: number;
  gnssState?: string;
  moving?: boolean;
  headingDeg?: number;
  speedMps?: number;
}

export interface Stop {
  stopId: string;
  name: string;
  position?: Position;
  radiusM?: number;
  polygon?: { exterior?: Position[] };
  arrivalEarliest?: string;
  arrivalLatest?: string;
}

export interface RunPlan {
  runId: string;
  vehicleId: string;
  route?: { points?: Position[]; corridorHalfWidthM?: number };
  stops?: Stop[];
  plannedStart?: string;
  plannedEnd?: string;
}

export interface Run {
  plan: RunPlan;
  state: string;
  version: number;
  createdBy?: string;
  dispatchedBy?: string;
  endedBy?: string;
  endComment?: string;
  startedTime?: string;
  endedTime?: string;
}

export interface StopReport {
  stopId: string;
  name: string;
  status: string;
  arrivalEarliest?: string;
  arrivalLatest?: string;
  arrived?: string;
  departed?: string;
  dwellS?: number;
  late?: boolean;
  early?: boolean;
  outOfOrder?: boolean;
  doorOpenings?: number;
}

export interface RunReport {
  run: Run;
  stops: StopReport[];
  distanceM: number;
  plannedDistanceM: number;
  offRouteS: number;
  offRouteDistanceM: number;
  fixes: string;
  doorEvents: string;
  alerts: Alert[];
  chainHead: string;
  firstFixTime?: string;
  lastFixTime?: string;
}

export interface TrackRecord {
  vehicleId?: string;
  seq: string;
  eventTime?: string;
  fix?: Fix;
  door?: { door: number; state: string };
  seal?: { seal: number; state: string };
  panic?: { source: string };
  crew?: { badgeId: string; action: string };
  gnss?: { state: string; detail: string };
  heartbeat?: object;
}

export interface StoredRecord {
  record: TrackRecord;
  serverReceivedTime?: string;
  chainHash: string;
}

export interface VerifyChainResponse {
  intact: boolean;
  recordsChecked: string;
  vehicleId: string;
  firstBadSeq: string;
  problem: string;
  chainHead: string;
}

export interface ExportRunResponse {
  content: string;
  mediaType: string;
  suggestedFileName: string;
}

export const SEVERITY_RANK: Record<string, number> = {
  SEVERITY_CRITICAL: 4,
  SEVERITY_HIGH: 3,
  SEVERITY_MEDIUM: 2,
  SEVERITY_LOW: 1,
};
