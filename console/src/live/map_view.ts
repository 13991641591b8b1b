// The live map: every vehicle as an arrow (heading) coloured by state; for the selected vehicle
// its run's route corridor, stops coloured by status and recent track. Tiles only from the
// configured URL (a control room's own tile server); without one, a plain background with a
// scale bar: no request leaves the control room.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { ConsoleConfig } from '../api';
import { el } from '../format';
import { Position, VehicleState } from '../types';
import { FleetStore, headingOf, vehicleStateClass } from './fleet_store';

export type StopStatus = 'pending' | 'arrived' | 'departed' | 'late' | 'missed';

export interface StopOverlay {
  stopId: string;
  name: string;
  position: Position;
  radiusM: number;
  status: StopStatus;
  note: string;
}

export interface RouteOverlay {
  runId: string;
  points: Position[];
  halfWidthM: number;
  stops: StopOverlay[];
  track: Array<[number, number]>;
}

interface VehicleMarker {
  marker: L.Marker;
  root: HTMLElement;
  arrow: HTMLElement;
}

export class MapView {
  readonly root = el('section', 'map-pane');
  readonly map: L.Map;
  private readonly markers = new Map<string, VehicleMarker>();
  private readonly overlay = L.layerGroup();
  private corridor: L.Polyline | null = null;
  private corridorHalfWidthM = 0;
  private highlight: L.CircleMarker | null = null;
  private fitted = false;
  private selected = '';
  onVehicleClick: (id: string) => void = () => {};

  constructor(container: HTMLElement, cfg: ConsoleConfig, private readonly fleet: FleetStore) {
    const mapEl = el('div', 'map');
    mapEl.id = 'map';
    this.root.append(mapEl);
    container.append(this.root);
    this.map = L.map(mapEl, { zoomControl: true, attributionControl: true, preferCanvas: false });
    this.map.attributionControl.setPrefix('');
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(this.map);
    } else {
      mapEl.classList.add('no-tiles');
      this.map.attributionControl.addAttribution('no basemap configured');
    }
    L.control.scale({ metric: true, imperial: false }).addTo(this.map);
    this.overlay.addTo(this.map);
    this.map.setView([47.37, 8.54], 12);
    this.map.on('zoomend', () => this.resizeCorridor());
    fleet.subscribe((changed) => this.update(changed));
  }

  // Leaflet measures its container: call when the pane becomes visible or changes size.
  invalidate(): void {
    this.map.invalidateSize();
  }

  private update(changed: VehicleState[]): void {
    for (const v of changed) this.place(v);
    if (!this.fitted && this.markers.size) {
      const pts = [...this.markers.values()].map((m) => m.marker.getLatLng());
      this.map.fitBounds(L.latLngBounds(pts).pad(0.2), { maxZoom: 15, animate: false });
      this.fitted = true;
    }
    if (this.selected && changed.some((v) => v.vehicleId === this.selected)) this.updateTrack();
  }

  private place(v: VehicleState): void {
    const f = v.lastFix;
    if (!f || !Number.isFinite(f.latDeg) || !Number.isFinite(f.lonDeg)) return;
    let m = this.markers.get(v.vehicleId);
    if (!m) {
      const root = el('div', 'vehicle');
      root.dataset.vehicleId = v.vehicleId;
      const arrow = el('div', 'vehicle-arrow');
      const label = el('span', 'vehicle-label', v.vehicleId);
      root.append(arrow, label);
      const icon = L.divIcon({ html: root, className: 'vehicle-icon', iconSize: [22, 22], iconAnchor: [11, 11] });
      const marker = L.marker([f.latDeg, f.lonDeg], { icon, keyboard: false, title: v.vehicleId });
      marker.on('click', () => this.onVehicleClick(v.vehicleId));
      marker.addTo(this.map);
      m = { marker, root, arrow };
      this.markers.set(v.vehicleId, m);
    } else {
      m.marker.setLatLng([f.latDeg, f.lonDeg]);
    }
    m.root.className = `vehicle state-${vehicleStateClass(v)}${v.vehicleId === this.selected ? ' selected' : ''}`;
    const h = headingOf(v);
    // Setting a style property from script is allowed by the CSP (no inline style attribute).
    m.arrow.style.transform = h === undefined ? '' : `rotate(${h}deg)`;
    m.arrow.classList.toggle('no-heading', h === undefined);
  }

  markerElement(id: string): HTMLElement | undefined {
    return this.markers.get(id)?.root;
  }

  selectVehicle(id: string): void {
    this.markers.get(this.selected)?.root.classList.remove('selected');
    this.selected = id;
    this.markers.get(id)?.root.classList.add('selected');
  }

  // Centre on where something happened, with a ring that fades.
  focus(p: Position, zoom = 15): void {
    const ll = L.latLng(p.latDeg, p.lonDeg);
    this.map.setView(ll, Math.max(this.map.getZoom(), zoom), { animate: false });
    this.highlight?.remove();
    this.highlight = L.circleMarker(ll, { radius: 18, className: 'focus-ring' }).addTo(this.map);
  }

  focusVehicle(id: string): void {
    const m = this.markers.get(id);
    if (m) this.map.setView(m.marker.getLatLng(), Math.max(this.map.getZoom(), 14), { animate: false });
  }

  private trackLine: L.Polyline | null = null;
  private trackOverride: Array<[number, number]> | null = null;

  // The selected run's corridor, stops and track; null clears them.
  showRoute(r: RouteOverlay | null): void {
    this.overlay.clearLayers();
    this.corridor = null;
    this.trackLine = null;
    this.trackOverride = null;
    if (!r) return;
    if (r.points.length >= 2) {
      const ll = r.points.map((p) => [p.latDeg, p.lonDeg] as [number, number]);
      this.corridorHalfWidthM = r.halfWidthM;
      this.corridor = L.polyline(ll, { className: 'corridor', interactive: false }).addTo(this.overlay);
      L.polyline(ll, { className: 'route-line', interactive: false, weight: 2 }).addTo(this.overlay);
      this.resizeCorridor();
    }
    this.trackOverride = r.track.length ? r.track : null;
    this.updateTrack();
    for (const s of r.stops) {
      const c = L.circle([s.position.latDeg, s.position.lonDeg], {
        radius: s.radiusM,
        className: `stop stop-${s.status}`,
      }).addTo(this.overlay);
      c.bindTooltip(`${s.name || s.stopId}: ${s.status}${s.note ? ` (${s.note})` : ''}`, {
        permanent: true,
        direction: 'top',
        className: `stop-label stop-label-${s.status}`,
      });
      c.on('add', () => c.getElement()?.setAttribute('data-stop-id', s.stopId));
      c.getElement()?.setAttribute('data-stop-id', s.stopId);
    }
  }

  updateStops(stops: StopOverlay[]): void {
    this.overlay.eachLayer((layer) => {
      if (!(layer instanceof L.Circle)) return;
      const id = layer.getElement()?.getAttribute('data-stop-id');
      const s = stops.find((x) => x.stopId === id);
      if (!s) return;
      layer.getElement()?.setAttribute('class', `stop stop-${s.status} leaflet-interactive`);
      layer.setTooltipContent(`${s.name || s.stopId}: ${s.status}${s.note ? ` (${s.note})` : ''}`);
      const tip = layer.getTooltip()?.getElement();
      if (tip) tip.className = tip.className.replace(/stop-label-\w+/, `stop-label-${s.status}`);
    });
  }

  private updateTrack(): void {
    if (!this.selected) return;
    const local = this.fleet.trail(this.selected);
    const pts = this.trackOverride ? [...this.trackOverride, ...local] : local;
    if (pts.length < 2) return;
    if (this.trackLine) this.trackLine.setLatLngs(pts);
    else this.trackLine = L.polyline(pts, { className: 'track', interactive: false, weight: 3 }).addTo(this.overlay);
  }

  // Leaflet strokes in pixels: the corridor's width follows the zoom so it shows its metres.
  private resizeCorridor(): void {
    if (!this.corridor) return;
    const c = this.map.getCenter();
    const p1 = this.map.latLngToContainerPoint(c);
    const p2 = this.map.latLngToContainerPoint(L.latLng(c.lat, c.lng + 0.001));
    const metresPerPixel = (0.001 * 111320 * Math.cos((c.lat * Math.PI) / 180)) / Math.max(1, Math.abs(p2.x - p1.x));
    this.corridor.setStyle({ weight: Math.max(2, (2 * this.corridorHalfWidthM) / metresPerPixel) });
  }
}
