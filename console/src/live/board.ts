// The alert board: every alert not yet resolved, severity then age, one row each. Rows are
// rebuilt only when their alert changed and moved only when their place changed, once per
// animation frame, so 1,000 open alerts and dozens of events per second stay cheap.
import { rpc } from '../api';
import { age, durationWords, el, enumWord, parseTime, timeElement } from '../format';
import { Alert } from '../types';
import { AlertStore } from './alert_store';
import { perfEnabled } from './perf';

export interface BoardOptions {
  store: AlertStore;
  canAcknowledge: boolean;
  onSelect: (a: Alert) => void;
  onError: (message: string) => void;
}

export class Board {
  readonly root = el('section', 'board');
  private readonly list = el('ol', 'board-list');
  private readonly summary = el('p', 'board-summary');
  private readonly rows = new Map<string, HTMLLIElement>();
  private readonly dirty = new Set<string>();
  private pendingMarks: number[] = [];
  private frame = 0;
  private selected = '';
  // Rows in the page: the most urgent first; more on request. Keeps 1,000 open alerts cheap
  // (layout cost grows with the rows in the page, not with the alerts).
  private limit = 200;
  private readonly more = el('button', 'board-more');

  constructor(private readonly opts: BoardOptions) {
    const head = el('header', 'board-head');
    head.append(el('h2', '', 'Alerts'), this.summary);
    this.more.type = 'button';
    this.more.addEventListener('click', () => {
      this.limit += 200;
      for (const a of this.opts.store.sorted().slice(0, this.limit)) this.dirty.add(a.alertId);
      this.schedule();
    });
    const scroller = el('div', 'board-scroll');
    scroller.append(this.list, this.more);
    this.root.append(head, scroller);
    this.list.setAttribute('aria-live', 'polite');
    opts.store.subscribe((changed) => {
      if (!changed.length) for (const id of this.rows.keys()) this.dirty.add(id);
      for (const a of changed) this.dirty.add(a.alertId);
      if (perfEnabled()) this.pendingMarks.push(performance.now());
      this.schedule();
    });
    // Ages ("4 min ago") move on with the clock.
    window.setInterval(() => {
      for (const id of this.rows.keys()) this.dirty.add(id);
      this.schedule();
    }, 30000);
    this.renderSummary();
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    const store = this.opts.store;
    const order = store.sorted().slice(0, this.limit);
    const shown = new Set(order.map((a) => a.alertId));
    for (const [id, row] of this.rows) {
      if (!shown.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    for (const id of this.dirty) {
      const a = store.get(id);
      const old = this.rows.get(id);
      if (!a || !shown.has(id)) {
        old?.remove();
        this.rows.delete(id);
        continue;
      }
      const row = this.buildRow(a);
      // Keep a comment being typed when the alert changes under it (a re-occurrence).
      const form = old?.querySelector('form');
      if (form) row.append(form);
      if (old) old.replaceWith(row);
      this.rows.set(id, row);
    }
    this.dirty.clear();
    for (const a of order) if (!this.rows.has(a.alertId)) this.rows.set(a.alertId, this.buildRow(a));
    // Put rows in order, touching only those out of place.
    let cursor = this.list.firstElementChild;
    for (const a of order) {
      const row = this.rows.get(a.alertId)!;
      if (row !== cursor) this.list.insertBefore(row, cursor);
      else cursor = cursor.nextElementSibling;
    }
    this.renderSummary();
    this.measure();
  }

  // Update time per event: from the event's arrival to the board's DOM update, and to the
  // next frame (the update painted). Recorded only when the perf probe is on (tests).
  private measure(): void {
    if (!this.pendingMarks.length) return;
    const done = performance.now();
    const marks = this.pendingMarks;
    this.pendingMarks = [];
    for (const t of marks) performance.measure('board-dom', { start: t, end: done });
    requestAnimationFrame(() => {
      const painted = performance.now();
      for (const t of marks) performance.measure('board-frame', { start: t, end: painted });
    });
  }

  private renderSummary(): void {
    const s = this.opts.store;
    const n = s.size();
    const u = s.unacknowledged();
    this.summary.textContent = n ? `${n} open, ${u} not acknowledged` : 'No open alerts';
    const hidden = n - this.rows.size;
    this.more.hidden = hidden <= 0;
    this.more.textContent = `${hidden} less urgent alerts not shown: show ${Math.min(200, hidden)} more`;
  }

  select(id: string): void {
    this.rows.get(this.selected)?.classList.remove('selected');
    this.selected = id;
    this.rows.get(id)?.classList.add('selected');
  }

  private buildRow(a: Alert): HTMLLIElement {
    const sev = enumWord(a.severity, 'SEVERITY_');
    const row = el('li', `alert sev-${sev} state-${enumWord(a.state, 'ALERT_STATE_')}`);
    row.dataset.alertId = a.alertId;
    if (a.alertId === this.selected) row.classList.add('selected');
    row.tabIndex = 0;

    const badge = el('span', 'sev-badge', sev);
    const kind = el('span', 'alert-kind', enumWord(a.kind, 'ALERT_KIND_'));
    const who = el('span', 'alert-vehicle', a.vehicleId);
    const top = el('div', 'alert-top');
    top.append(badge, kind, who);
    if (a.subject) top.append(el('span', 'alert-subject', a.subject));
    if ((a.occurrences ?? 0) > 1) {
      const occ = el('span', 'alert-occurrences', `×${a.occurrences}`);
      occ.title = `the condition was observed ${a.occurrences} times while this alert was open`;
      top.append(occ);
    }

    const meta = el('div', 'alert-meta');
    const when = parseTime(a.eventTime);
    meta.append(timeElement(a.eventTime));
    if (when) meta.append(el('span', 'alert-age', age(when)));
    // A condition that came back: when it came back is what the operator needs, not only when
    // it first happened.
    const lastAt = parseTime(a.lastEventTime);
    if ((a.occurrences ?? 0) > 1 && lastAt) {
      const last = el('span', 'alert-last');
      last.append('last at ', timeElement(a.lastEventTime), ` (${age(lastAt)})`);
      last.title = `occurrence ${a.occurrences}; the first was at ${a.eventTime ?? '?'}`;
      meta.append(last);
    }
    const delay = a.delayS ?? a.delaySeconds ?? 0;
    if (a.delayed) {
      const d = el('span', 'alert-delayed', `delayed ${durationWords(delay)}`);
      d.title = 'raised from records that arrived late (backfilled after a coverage gap)';
      meta.append(d);
    }
    if (a.runId) meta.append(el('span', 'alert-run', `run ${a.runId}`));
    const last = a.actions?.[a.actions.length - 1];
    if (a.state === 'ALERT_STATE_ACKNOWLEDGED' && last) {
      const ack = el('span', 'alert-acked', `acknowledged by ${last.actor}`);
      if (last.comment) ack.title = last.comment;
      meta.append(ack);
    }
    if (a.conditionClearedTime) meta.append(el('span', 'alert-cleared', 'condition cleared'));
    if (a.policyStep) {
      const step = el('span', 'alert-policy', `escalated: step ${a.policyStep}`);
      step.title = 'not acknowledged in time: the escalation policy notified more people (History shows whom)';
      meta.append(step);
    }

    row.append(top, meta);
    if (a.details) row.append(el('div', 'alert-details', a.details));

    const actions = el('div', 'alert-actions');
    // Every role may read an alert's history; acting on it is for operators and up.
    const history = el('a', 'history', 'History');
    history.href = `#/alerts/${encodeURIComponent(a.alertId)}`;
    history.title = 'Every event of this alert: raised, escalation steps, acknowledged, resolved';
    history.addEventListener('click', (e) => e.stopPropagation());
    actions.append(history);
    if (this.opts.canAcknowledge) {
      if (a.state === 'ALERT_STATE_OPEN') {
        const ack = el('button', 'ack', 'Acknowledge');
        ack.type = 'button';
        ack.addEventListener('click', (e) => {
          e.stopPropagation();
          this.openForm(row, a, 'ack');
        });
        actions.append(ack);
      }
      const res = el('button', 'resolve', 'Resolve');
      res.type = 'button';
      res.addEventListener('click', (e) => {
        e.stopPropagation();
        this.openForm(row, a, 'resolve');
      });
      actions.append(res);
    }
    row.append(actions);
    row.addEventListener('click', () => {
      this.select(a.alertId);
      this.opts.onSelect(a);
    });
    return row;
  }

  // Inline form under the row: a comment, required to resolve a critical alert.
  private openForm(row: HTMLLIElement, a: Alert, what: 'ack' | 'resolve'): void {
    row.querySelector('form')?.remove();
    const form = el('form', 'alert-form');
    const critical = a.severity === 'SEVERITY_CRITICAL';
    const needComment = what === 'resolve' && critical;
    const label = el('label', '', what === 'ack' ? 'Comment' : 'Resolution comment');
    const input = el('textarea', 'comment');
    input.name = 'comment';
    input.rows = 2;
    // Checked on submit with our own message (the browser's would block the submit silently).
    input.setAttribute('aria-required', String(needComment));
    input.placeholder = needComment ? 'required for a critical alert' : 'optional';
    label.append(input);
    const submit = el('button', 'submit', what === 'ack' ? 'Acknowledge' : 'Resolve');
    submit.type = 'submit';
    const cancel = el('button', 'cancel', 'Cancel');
    cancel.type = 'button';
    const msg = el('span', 'form-error');
    form.append(label, submit, cancel, msg);
    form.addEventListener('click', (e) => e.stopPropagation());
    cancel.addEventListener('click', () => form.remove());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const comment = input.value.trim();
      if (needComment && !comment) {
        msg.textContent = 'A comment is required to resolve a critical alert.';
        return;
      }
      submit.disabled = true;
      const method = what === 'ack' ? 'AckAlert' : 'ResolveAlert';
      rpc<Alert>('cit.v1.Alerts', method, { alertId: a.alertId, comment })
        .then((updated) => {
          form.remove();
          this.opts.store.apply([{ eventId: '', alert: updated }]);
        })
        .catch((err: Error) => {
          submit.disabled = false;
          msg.textContent = err.message;
          this.opts.onError(`${method} failed: ${err.message}`);
        });
    });
    row.append(form);
    input.focus();
  }
}
