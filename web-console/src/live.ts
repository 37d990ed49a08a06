// Live updates: the daemon's SSE stream (GET /api/v1/events), or periodic refetch when it has none — the header says which.
import { useEffect, useState } from 'preact/hooks';

/** The SSE event names (= event kinds) the daemon sends. */
export type EventKind = 'device' | 'binding' | 'lease' | 'policy' | 'accounting';
export const EVENT_KINDS: EventKind[] = ['device', 'binding', 'lease', 'policy', 'accounting'];

/** The data of one event: {seq, time, kind, type, ...fields}. */
export interface BrokerEvent {
  seq: number;
  time: string;
  kind: string;
  type: string;
  address?: string;
  group?: number;
  leaseId?: string;
  [k: string]: unknown;
}

export type LiveMode =
  | { kind: 'connecting' }
  | { kind: 'sse'; events: number; lastEvent?: string; lastAt?: number; dropped?: number }
  | { kind: 'polling'; reason: string; intervalMs: number; lastAt?: number };

const EVENTS_PATH = '/api/v1/events';

// One counter per kind; `all` grows on (re)connect, drop and poll, when anything may have changed.
const ticks: Record<EventKind | 'all', number> = { all: 0, device: 0, binding: 0, lease: 0, policy: 0, accounting: 0 };
let mode: LiveMode = { kind: 'connecting' };
const subscribers = new Set<() => void>();
const eventListeners = new Set<(e: BrokerEvent) => void>();
let timer: number | undefined;
let started = false;

function notify() {
  subscribers.forEach((f) => f());
}

// Events in a burst (a group bind touches many devices) cause one refetch per kind.
const pendingKinds = new Set<EventKind | 'all'>();
let pending: number | undefined;
function bumpSoon(k: EventKind | 'all') {
  pendingKinds.add(k);
  if (pending === undefined) {
    pending = window.setTimeout(() => {
      pending = undefined;
      pendingKinds.forEach((x) => ticks[x]++);
      pendingKinds.clear();
      notify();
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
      ticks.all++;
      notify();
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

/** "driver-bound 0000:07:02.3", "lease-active 1c0ffee0", "policy-loaded". */
export function describeEvent(e: BrokerEvent): string {
  const subject = e.address ?? (e.leaseId ? String(e.leaseId).slice(0, 8) : undefined) ?? (e.group != null ? `group ${e.group}` : undefined);
  return [e.type ?? e.kind, subject].filter((x) => x != null).join(' ');
}

export function startLive() {
  if (started) return;
  started = true;
  if (new URLSearchParams(location.search).has('nosse') || typeof EventSource === 'undefined') {
    startPolling('server-sent events switched off');
    return;
  }
  let opened = false;
  let events = 0;
  let dropped = 0;
  const es = new EventSource(EVENTS_PATH);
  es.onopen = () => {
    opened = true;
    if (timer !== undefined) {
      window.clearInterval(timer);
      timer = undefined;
    }
    mode = { kind: 'sse', events, dropped, lastEvent: mode.kind === 'sse' ? mode.lastEvent : undefined, lastAt: mode.kind === 'sse' ? mode.lastAt : undefined };
    bumpSoon('all'); // refetch whatever changed while disconnected
  };
  const onEvent = (msg: MessageEvent) => {
    let data: BrokerEvent;
    try {
      data = JSON.parse(msg.data);
    } catch {
      return;
    }
    events++;
    mode = { kind: 'sse', events, dropped, lastEvent: describeEvent(data), lastAt: Date.now() };
    eventListeners.forEach((f) => f(data));
    bumpSoon(data.kind as EventKind);
  };
  EVENT_KINDS.forEach((n) => es.addEventListener(n, onEvent as EventListener));
  // The only unnamed message is `dropped`: this reader fell behind and the daemon ends the stream.
  // EventSource reconnects by itself; onopen then refetches everything.
  es.onmessage = (msg) => {
    dropped++;
    mode = { kind: 'sse', events, dropped, lastEvent: 'events dropped, reconnecting', lastAt: Date.now() };
    notify();
  };
  es.onerror = async () => {
    if (opened) return; // the browser reconnects an opened stream by itself
    es.close();
    startPolling(await probeStatus());
  };
}

function liveTick(kinds?: readonly EventKind[]): number {
  return ticks.all + (kinds ?? EVENT_KINDS).reduce((n, k) => n + ticks[k], 0);
}

/** A number that grows whenever data of these kinds (default: any) may have changed; use it as an effect dependency. */
export function useLiveTick(kinds?: readonly EventKind[]): number {
  const [, setN] = useState(0);
  useEffect(() => {
    const f = () => setN((n) => n + 1);
    subscribers.add(f);
    return () => void subscribers.delete(f);
  }, []);
  return liveTick(kinds);
}

/** Calls `f` with every event as it arrives (not coalesced). */
export function useEvents(f: (e: BrokerEvent) => void) {
  useEffect(() => {
    eventListeners.add(f);
    return () => void eventListeners.delete(f);
  }, [f]);
}

export function useLiveMode(): LiveMode {
  useLiveTick();
  return mode;
}
