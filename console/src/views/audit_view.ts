// Audit view: the run report, chain verification, exports (GeoJSON / GPX / CSV streamed by
// StreamExport, any run length) and a track replay with a time slider.
import L from 'leaflet';
import { ConsoleConfig, fetchExport, readTrack, rpc } from '../api';
import { durationWords, el, enumWord, timeElement } from '../format';
import { RunReport, StoredRecord, VerifyChainResponse } from '../types';

export async function auditView(runId: string, cfg: ConsoleConfig): Promise<HTMLElement> {
  const root = el('section', 'audit-view');
  root.append(el('h2', '', `Audit of run ${runId}`));
  const [report, verify, track] = await Promise.all([
    rpc<RunReport>('cit.v1.Audit', 'GetRunReport', { runId }),
    rpc<VerifyChainResponse>('cit.v1.Audit', 'VerifyChain', { runId }),
    readTrack<StoredRecord>(runId),
  ]);
  root.append(chainResult(verify), summary(report), exports(runId));
  root.append(el('h3', '', 'Track replay'), replay(track, report, cfg));
  return root;
}

function chainResult(v: VerifyChainResponse): HTMLElement {
  const p = el('p', `chain ${v.intact ? 'chain-ok' : 'chain-bad'}`);
  p.textContent = v.intact
    ? `Hash chain intact: ${v.recordsChecked} records checked, head ${v.chainHead.slice(0, 16)}…`
    : `Hash chain BROKEN at ${v.vehicleId} seq ${v.firstBadSeq}: ${v.problem}`;
  p.title = v.chainHead;
  return p;
}

function summary(r: RunReport): HTMLElement {
  const dl = el('dl', 'run-facts');
  const add = (k: string, v: Node | string) => {
    const dd = el('dd');
    dd.append(v);
    dl.append(el('dt', '', k), dd);
  };
  add('Vehicle', r.run.plan.vehicleId);
  add('State', enumWord(r.run.state, 'RUN_STATE_'));
  add('Dispatched by', r.run.dispatchedBy || '—');
  add('Ended by', r.run.endedBy ? `${r.run.endedBy}${r.run.endComment ? ` (“${r.run.endComment}”)` : ''}` : '—');
  add('First fix', timeElement(r.firstFixTime, true));
  add('Last fix', timeElement(r.lastFixTime, true));
  add('Fixes / door events', `${r.fixes} / ${r.doorEvents}`);
  add('Off route', `${durationWords(r.offRouteS)}, ${Math.round(r.offRouteDistanceM)} m`);
  add('Stops', (r.stops ?? []).map((s) => `${s.stopId} ${enumWord(s.status, 'STOP_STATUS_')}${s.late ? ' (late)' : ''}`).join(', ') || '—');
  add('Alerts', String(r.alerts?.length ?? 0));
  add('Chain head at report', r.chainHead ? `${r.chainHead.slice(0, 16)}…` : '—');
  return dl;
}

function exports(runId: string): HTMLElement {
  const div = el('div', 'exports');
  div.append(el('span', '', 'Export: '));
  const note = el('p', 'note');
  for (const [fmt, label] of [['EXPORT_FORMAT_GEOJSON', 'GeoJSON'], ['EXPORT_FORMAT_GPX', 'GPX'], ['EXPORT_FORMAT_CSV', 'CSV']]) {
    const b = el('button', 'export', label);
    b.type = 'button';
    b.dataset.format = fmt;
    b.addEventListener('click', async () => {
      b.disabled = true;
      note.textContent = '';
      try {
        const { blob, fileName } = await fetchExport(runId, fmt);
        download(blob, fileName);
      } catch (e) {
        note.textContent = `Export failed: ${e instanceof Error ? e.message : String(e)}`;
      } finally {
        b.disabled = false;
      }
    });
    div.append(b);
  }
  div.append(note);
  return div;
}

function download(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = el('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function replay(records: StoredRecord[], report: RunReport, cfg: ConsoleConfig): HTMLElement {
  const fixes = records.filter((r) => r.record.fix);
  const box = el('div', 'replay');
  if (!fixes.length) {
    box.append(el('p', 'empty', 'No fixes recorded for this run.'));
    return box;
  }
  const mapEl = el('div', 'replay-map');
  const slider = el('input', 'replay-slider');
  slider.type = 'range';
  slider.min = '0';
  slider.max = String(fixes.length - 1);
  slider.value = '0';
  const label = el('div', 'replay-label');
  box.append(mapEl, slider, label);
  // Leaflet needs the element in the document to measure it.
  requestAnimationFrame(() => {
    const map = L.map(mapEl, { attributionControl: false });
    if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { maxZoom: 19 }).addTo(map);
    else mapEl.classList.add('no-tiles');
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    const plan = report.run.plan.route?.points ?? [];
    if (plan.length > 1) L.polyline(plan.map((p) => [p.latDeg, p.lonDeg] as [number, number]), { className: 'route-line', weight: 2 }).addTo(map);
    const pts = fixes.map((r) => [r.record.fix!.latDeg, r.record.fix!.lonDeg] as [number, number]);
    const line = L.polyline(pts, { className: 'track', weight: 3 }).addTo(map);
    map.fitBounds(line.getBounds().pad(0.1));
    const marker = L.circleMarker(pts[0], { radius: 7, className: 'replay-marker' }).addTo(map);
    const show = () => {
      const i = Number(slider.value);
      const r = fixes[i].record;
      marker.setLatLng(pts[i]);
      label.replaceChildren(timeElement(r.eventTime, true), ` · fix ${i + 1} of ${fixes.length} · seq ${r.seq}${r.fix?.speedMps !== undefined ? ` · ${Math.round(r.fix.speedMps * 3.6)} km/h` : ''}`);
    };
    slider.addEventListener('input', show);
    show();
  });
  return box;
}
