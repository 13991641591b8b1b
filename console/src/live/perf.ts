// The in-browser measurement probe (tests and docs/benchmarks.md): off unless the page sets
// window.citPerf = true, so a long shift does not accumulate performance entries.
declare global {
  interface Window {
    citPerf?: boolean;
  }
}

export function perfEnabled(): boolean {
  return window.citPerf === true;
}
