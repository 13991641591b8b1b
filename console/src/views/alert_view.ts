// Alert view (#/alerts/<id>): one alert and its history from the hash-chained alert log
// (ListAlertEvents): raised, each escalation step with the targets notified and the severity
// raised, re-occurrences, the condition clearing, who acknowledged and resolved it with what
// comment, each with its time and actor. Follows the live alert stream: when the alert changes
// while the view is open, the history is read again.
import { rpc } from '../api';
import { el, enumWord, timeElement } from '../format';
import { AlertStore } from '../live/alert_store';
import { Alert, AlertEvent, ListAlertEventsResponse } from '../types';

export async function alertView(alertId: string, alerts: AlertStore, runHref: (runId: string) => string): Promise<HTMLElement> {
  const root = el('section', 'alert-view');
  root.dataset.alertId = alertId;
  const body = el('div', 'alert-view-body');
  root.append(body);
  const load = async () => {
    const res = await rpc<ListAlertEventsResponse>('cit.v1.Alerts', 'ListAlertEvents', { alertId });
    body.replaceChildren(...render(res, runHref));
  };
  await load();
  // Re-read when the live stream reports a change of this alert (an escalation step, an
  // acknowledgement from another console), at most one read in flight.
  let reading: Promise<void> | null = null;
  let again = false;
  const off = alerts.subscribe((changed) => {
    if (!root.isConnected) {
      off();
      return;
    }
    if (!changed.some((a) => a.alertId === alertId)) return;
    if (reading) {
      again = true;
      return;
    }
    const step = async (): Promise<void> => {
      try {
        await load();
      } catch {
        // the next change tries again
      }
      if (again) {
        again = false;
        return step();
      }
    };
    reading = step().finally(() => (reading = null));
  });
  return root;
}

function render(res: ListAlertEventsResponse, runHref: (runId: string) => string): Node[] {
  const a = res.alert;
  const title = el('h2', '', `Alert #${a.alertId}: ${enumWord(a.kind, 'ALERT_KIND_')} · ${a.vehicleId}`);
  const facts = el('dl', 'run-facts alert-facts');
  const fact = (k: string, v: Node | string) => {
    const dd = el('dd');
    dd.append(v);
    facts.append(el('dt', '', k), dd);
  };
  fact('Severity', el('span', `sev-text sev-${enumWord(a.severity, 'SEVERITY_')}`, enumWord(a.severity, 'SEVERITY_')));
  fact('State', enumWord(a.state, 'ALERT_STATE_'));
  if (a.runId) {
    const link = el('a', '', a.runId);
    link.href = runHref(a.runId);
    fact('Run', link);
  } else {
    fact('Run', '—');
  }
  if (a.subject) fact('Subject', a.subject);
  fact('Happened', timeElement(a.eventTime, true));
  if (a.position && (a.position.latDeg || a.position.lonDeg)) {
    fact('Place', `${a.position.latDeg.toFixed(6)}, ${a.position.lonDeg.toFixed(6)}`);
  }
  if (a.details) fact('Details', a.details);
  if (a.policyStep) fact('Escalation', `policy step ${a.policyStep} reached`);

  const table = el('table', 'alert-history');
  const thead = el('thead');
  const h = el('tr');
  for (const c of ['Time', 'Event', 'By', 'Severity', 'What']) h.append(el('th', '', c));
  thead.append(h);
  const tbody = el('tbody');
  table.append(thead, tbody);
  let previous: Alert | null = null;
  const events = res.events ?? [];
  const half = Math.ceil(events.length / 2);
  events.forEach((e, i) => {
    if (Number(res.eventsOmitted ?? 0) > 0 && i === half) {
      const gap = el('tr', 'event-gap');
      const td = el('td', '', `… ${res.eventsOmitted} events not shown …`);
      td.colSpan = 5;
      gap.append(td);
      tbody.append(gap);
    }
    tbody.append(eventRow(e, previous));
    previous = e.alert;
  });
  const nodes: Node[] = [title, facts, el('h3', '', 'History'), table];
  if (!events.length) nodes.push(el('p', 'empty', 'No events stored for this alert.'));
  if (Number(res.updatedOmitted ?? 0) > 0) {
    nodes.push(el('p', 'note', `${res.updatedOmitted} updates while the condition lasted (new position or details, same severity) are not listed.`));
  }
  return nodes;
}

function eventRow(e: AlertEvent, previous: Alert | null): HTMLTableRowElement {
  const type = enumWord(e.type, 'ALERT_EVENT_TYPE_') || 'current';
  const tr = el('tr', `event event-${type.replace(/ /g, '-')}`);
  tr.dataset.eventId = e.eventId;
  const what = describe(e);
  tr.dataset.what = what.label;
  const time = el('td');
  time.append(timeElement(eventTime(e), true));
  const sev = enumWord(e.alert.severity, 'SEVERITY_');
  const before = previous ? enumWord(previous.severity, 'SEVERITY_') : '';
  const sevCell = el('td', `sev-text sev-${sev}`, before && before !== sev ? `${before} → ${sev}` : sev);
  tr.append(time, el('td', 'event-label', what.label), el('td', 'event-actor', e.actor || '—'), sevCell, el('td', 'event-text', what.text));
  return tr;
}

// What an event did, for people: a short label and the text that says more.
export function describe(e: AlertEvent): { label: string; text: string } {
  const a = e.alert;
  const quoted = e.comment ? `“${e.comment}”` : '';
  switch (e.type) {
    case 'ALERT_EVENT_TYPE_RAISED':
      return { label: 'raised', text: a.details };
    case 'ALERT_EVENT_TYPE_UPDATED':
      return { label: 'updated', text: a.details };
    case 'ALERT_EVENT_TYPE_ESCALATED':
      // The policy's step says which step, after how long, whom it notified and what severity
      // it raised to (the event's comment); a rule's step (the condition got worse) says how
      // much worse in the details.
      if (e.actor === 'escalation') return { label: `escalated: policy step ${a.policyStep ?? '?'}`, text: e.comment ?? '' };
      return { label: 'escalated: condition worse', text: a.details };
    case 'ALERT_EVENT_TYPE_REOCCURRED':
      return { label: `re-occurred (×${a.occurrences})`, text: a.details };
    case 'ALERT_EVENT_TYPE_CLEARED':
      return { label: 'condition cleared', text: a.details };
    case 'ALERT_EVENT_TYPE_ACKNOWLEDGED':
      return { label: 'acknowledged', text: quoted || 'no comment' };
    case 'ALERT_EVENT_TYPE_RESOLVED':
      return { label: 'resolved', text: quoted || 'no comment' };
    default:
      return { label: enumWord(e.type, 'ALERT_EVENT_TYPE_') || 'event', text: e.comment || a.details };
  }
}

// The event's own time; events stored before the server recorded it carry it only in the
// alert (detected, latest occurrence, cleared, the operator action's time).
function eventTime(e: AlertEvent): string | undefined {
  if (e.time) return e.time;
  const a = e.alert;
  switch (e.type) {
    case 'ALERT_EVENT_TYPE_RAISED':
      return a.detectedTime;
    case 'ALERT_EVENT_TYPE_REOCCURRED':
    case 'ALERT_EVENT_TYPE_UPDATED':
      return a.lastEventTime;
    case 'ALERT_EVENT_TYPE_CLEARED':
      return a.conditionClearedTime;
    case 'ALERT_EVENT_TYPE_ACKNOWLEDGED':
    case 'ALERT_EVENT_TYPE_RESOLVED':
      return a.actions?.[a.actions.length - 1]?.time;
    default:
      return undefined;
  }
}
