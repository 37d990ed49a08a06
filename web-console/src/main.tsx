import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { isAdmin, loadWhoami, whoami, ApiError } from './api';
import { startLive, useLiveMode } from './live';
import { Audit } from './pages/Audit';
import { DeviceDetail, Devices } from './pages/Devices';
import { Leases } from './pages/Leases';
import { Memlock } from './pages/Memlock';
import { Overview } from './pages/Overview';
import { Policy } from './pages/Policy';
import { timeAgo } from './ui';
import './styles.css';

const PAGES = [
  ['overview', 'Host', false],
  ['devices', 'Devices & groups', false],
  ['leases', 'Leases', false],
  ['memlock', 'Memlock', true],
  ['policy', 'Policy', false],
  ['audit', 'Audit log', false],
] as const;

/** Who we are, as the daemon identified us; admins may change state, others see their own leases and audit. */
function Identity() {
  const me = whoami()!;
  return (
    <span class="whoami" data-uid={me.uid} data-admin={String(me.admin)} title={`identified by ${me.via}`}>
      uid {me.uid} · {me.admin ? 'admin' : 'read-only: own leases'}
    </span>
  );
}

// Hash routes (#/devices) need no server-side fallback from the daemon.
function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview').split('/');
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const f = () => setRoute(read());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return route;
}

function LiveIndicator() {
  const m = useLiveMode();
  const [, force] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => force((n) => n + 1), 1000);
    return () => window.clearInterval(id);
  }, []);
  if (m.kind === 'connecting') return <span class="live" data-live="connecting">connecting…</span>;
  if (m.kind === 'sse')
    return (
      <span class="live ok" data-live="sse" data-events={m.events} title="server-sent events from GET /api/v1/events">
        ● live (SSE) · {m.events} event{m.events === 1 ? '' : 's'}
        {m.lastEvent ? ` · ${m.lastEvent} ${timeAgo(m.lastAt)}` : ''}
      </span>
    );
  return (
    <span class="live warn" data-live="polling" title={m.reason}>
      ↻ refetching every {m.intervalMs / 1000}s — no event stream ({m.reason}){m.lastAt ? ` · ${timeAgo(m.lastAt)}` : ''}
    </span>
  );
}

function App() {
  const [page, ...rest] = useRoute();
  let body;
  switch (page) {
    case 'devices': body = <Devices />; break;
    case 'device': body = <DeviceDetail address={decodeURIComponent(rest.join('/'))} />; break;
    case 'leases': body = <Leases />; break;
    case 'memlock': body = <Memlock />; break;
    case 'policy': body = <Policy />; break;
    case 'audit': body = <Audit />; break;
    default: body = <Overview />;
  }
  const active = page === 'device' ? 'devices' : page;
  return (
    <>
      <header>
        <span class="brand">vfio-broker</span>
        <nav>
          {PAGES.filter(([, , adminOnly]) => !adminOnly || isAdmin()).map(([id, label]) => (
            <a href={`#/${id}`} class={active === id || (id === 'overview' && !PAGES.some(([p]) => p === active)) ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <Identity />
        <LiveIndicator />
      </header>
      <main>{body}</main>
    </>
  );
}

loadWhoami().then(
  () => {
    startLive();
    render(<App />, document.getElementById('app')!);
  },
  (e) => {
    const detail = e instanceof ApiError ? e.describe() : String(e);
    render(<main><h1>vfio-broker</h1><p class="error" data-whoami-error>The daemon did not identify you: {detail}</p></main>, document.getElementById('app')!);
  },
);
