// Audible alarm for unacknowledged critical alerts, made with WebAudio (no sound files): a
// two-tone beep every 2 s while any critical alert is open. Muting is remembered per browser
// and always shown in the header. Browsers start audio only after a user gesture, so until the
// first click the header says the sound is waiting for one.

const MUTE_KEY = 'citwatch.muted';

export type AlarmListener = () => void;

export class Alarm {
  private ctx: AudioContext | null = null;
  private timer: number | undefined;
  private active = false;
  private muted = localStorage.getItem(MUTE_KEY) === '1';
  private readonly listeners: AlarmListener[] = [];

  constructor() {
    const unlock = () => {
      this.ensureContext();
      void this.ctx?.resume().then(() => this.notify());
    };
    window.addEventListener('pointerdown', unlock);
    window.addEventListener('keydown', unlock);
  }

  subscribe(fn: AlarmListener): void {
    this.listeners.push(fn);
  }

  isMuted(): boolean {
    return this.muted;
  }
  isSounding(): boolean {
    return this.active && !this.muted;
  }
  // True while the browser still blocks audio (no click yet).
  needsGesture(): boolean {
    return !this.ctx || this.ctx.state !== 'running';
  }

  setMuted(m: boolean): void {
    this.muted = m;
    localStorage.setItem(MUTE_KEY, m ? '1' : '0');
    this.notify();
  }

  // Called whenever the board changes: sound while `on`.
  setActive(on: boolean): void {
    if (on === this.active) return;
    this.active = on;
    if (on) {
      this.beep();
      this.timer = window.setInterval(() => this.beep(), 2000);
    } else {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
    this.notify();
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  private noAudio = false;
  private ensureContext(): void {
    if (this.ctx || this.noAudio) return;
    try {
      this.ctx = new AudioContext();
    } catch {
      this.noAudio = true;  // no audio device: the board still shows the alerts
    }
  }

  private beep(): void {
    if (this.muted) return;
    this.ensureContext();
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running') return;
    const t0 = ctx.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.25 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.25 + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + i * 0.25);
      osc.stop(t0 + i * 0.25 + 0.24);
    }
  }
}
