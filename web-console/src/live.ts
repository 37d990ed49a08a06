// Live updates: the daemon's SSE stream when it has one, otherwise periodic refetch — and the header says which.
import { useEffect, useState } from 'preact/hooks';

export type LiveMode =
  | { kind: 'connecting' }
  | { kind: 'sse'; lastEvent?: string; lastAt?: number }
  | { kind: 'polling'; reason: string; intervalMs: number; lastAt?: number };

const EVENTS_PATH = '/api/v1/events';
// Named SSE events are only delivered to listeners registered by name, so list the ones the daemon sends.
const EVENT_NAMES = ['change', 'device', 'devices', 'inventory', 'group', 'binding', 'lease', 'leases', 'policy', 'audit', 'accounting'];

let tick = 0;
let mode: LiveMode = { kind: 'connecting' };
const subscribers = new Set<() => void>();
let timer: number | undefined;
let started = false;

function notify() {
  subscribers.forEach((f) => f());
}

function bump() {
  tick++;
  notify();
}

// Several events in a burst (a group bind touches many devices) cause one refetch.
let pending: number | undefined;
function bumpSoon(label: string) {
  mode = { kind: 'sse', lastEvent: label, lastAt: Date.now() };
  if (pending === undefined) {
    pending = window.setTimeout(() => {
      pending = undefined;
      bump();
    }, 150);
  }
}

function pollIntervalMs(): number {
  const q = new URLSearchParams(location.search).get('poll');
  const n = q ? Number(q) : NaN;
  return Number.isFinite(n) && n >= 200 ? n : 3000;
}

function startPolling(reason: string) {
  const intervalMs = pollIntervalMs();
  mode = { kind: 'polling', reason, intervalMs };
  notify();
  if (timer === undefined) {
    timer = window.setInterval(() => {
      mode = { kind: 'polling', reason, intervalMs, lastAt: Date.now() };
      bump();
    }, intervalMs);
  }
}

async function probeStatus(): Promise<string> {
  // EventSource hides the HTTP status; ask once with fetch and drop the body.
  const ctl = new AbortController();
  try {
    const r = await fetch(EVENTS_PATH, { headers: { Accept: 'text/event-stream' }, signal: ctl.signal });
    ctl.abort();
    return `GET ${EVENTS_PATH} answered ${r.status}`;
  } catch (e) {
    return `GET ${EVENTS_PATH} failed: ${(e as Error).message}`;
  }
}

export function startLive() {
  if (started) return;
  started = true;
  if (new URLSearchParams(location.search).has('nosse') || typeof EventSource === 'undefined') {
    startPolling('server-sent events switched off');
    return;
  }
  let opened = false;
  const es = new EventSource(EVENTS_PATH);
  es.onopen = () => {
    opened = true;
    if (timer !== undefined) {
      window.clearInterval(timer);
      timer = undefined;
    }
    mode = { kind: 'sse' };
    bump(); // refetch whatever changed while disconnected
  };
  const onEvent = (e: MessageEvent) => {
    let label = e.type;
    try {
      const data = JSON.parse(e.data);
      const what = data?.type ?? data?.kind ?? data?.event;
      const subject = data?.address ?? data?.group ?? data?.leaseId ?? data?.id ?? data?.subject;
      label = [what ?? e.type, subject].filter((x) => x != null).join(' ');
    } catch {
      /* plain-text data: the event name says enough */
    }
    bumpSoon(label);
  };
  es.onmessage = onEvent;
  EVENT_NAMES.forEach((n) => es.addEventListener(n, onEvent as EventListener));
  es.onerror = async () => {
    if (opened) return; // the browser reconnects an opened stream by itself
    es.close();
    startPolling(await probeStatus());
  };
}

/** A number that grows whenever data may have changed; use it as an effect dependency. */
export function useLiveTick(): number {
  const [, setN] = useState(0);
  useEffect(() => {
    const f = () => setN((n) => n + 1);
    subscribers.add(f);
    return () => void subscribers.delete(f);
  }, []);
  return tick;
}

export function useLiveMode(): LiveMode {
  useLiveTick();
  return mode;
}
