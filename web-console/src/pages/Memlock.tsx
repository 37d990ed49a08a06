import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson } from '../api';
import { useLiveTick } from '../live';
import { appendSample, formatBytes, formatLimit, leaseKey, memlockSeries, principalKey, Sample } from '../model';
import type { AccountingReport, MemlockLevel } from '../types';
import { Badge, ErrorBox, Section, Unavailable } from '../ui';

const SAMPLE_MS = 2000;
const KEEP = 150; // five minutes at one sample per 2 s
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f'];

// History survives page switches so the plot does not restart at every visit.
let history: Sample[] = [];

function Plot({ samples }: { samples: Sample[] }) {
  const keys = Array.from(new Set(samples.flatMap((s) => Object.keys(s.values)))).sort();
  const W = 760, H = 240, L = 70, B = 24;
  if (samples.length === 0) return <p class="muted">Waiting for the first sample…</p>;
  const t0 = samples[0].t, t1 = Math.max(samples[samples.length - 1].t, t0 + SAMPLE_MS);
  const max = Math.max(1024 * 1024, ...samples.flatMap((s) => Object.values(s.values)));
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
  const y = (v: number) => 10 + (1 - v / max) * (H - B - 10);
  const last = samples[samples.length - 1].values;
  return (
    <figure class="plot">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="memlock over time">
        {[0, 0.5, 1].map((f) => (
          <>
            <line x1={L} x2={W - 10} y1={y(max * f)} y2={y(max * f)} class="grid" />
            <text x={L - 6} y={y(max * f) + 4} text-anchor="end" class="axis">{formatBytes(max * f)}</text>
          </>
        ))}
        <text x={L} y={H - 6} class="axis">{new Date(t0).toLocaleTimeString()}</text>
        <text x={W - 10} y={H - 6} text-anchor="end" class="axis">{new Date(t1).toLocaleTimeString()}</text>
        {keys.map((k, i) => (
          <polyline
            fill="none"
            stroke={COLORS[i % COLORS.length]}
            stroke-width="2"
            stroke-dasharray={k.startsWith('uid ') ? '6 4' : undefined}
            data-series={k}
            points={samples.filter((s) => k in s.values).map((s) => `${x(s.t).toFixed(1)},${y(s.values[k]).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
      <figcaption>
        {keys.length === 0 ? <span class="muted">No active lease: nothing to plot.</span> : keys.map((k, i) => (
          <span class="legend" data-series={k}>
            <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} />
            {k}: {k in last ? formatBytes(last[k]) : 'ended'}
          </span>
        ))}
        <span class="small muted"> (solid: lease, dashed: principal)</span>
      </figcaption>
    </figure>
  );
}

function Level({ l }: { l: MemlockLevel }) {
  const kind = l === 'OVER_LIMIT' ? 'bad' : l === 'NEAR_LIMIT' ? 'warn' : l === 'OK' ? 'ok' : 'muted';
  return <Badge kind={kind}>{l.toLowerCase().replace('_', ' ')}</Badge>;
}

function Tables({ acc }: { acc: AccountingReport }) {
  return (
    <>
      <Section title={`Per lease (${acc.leases.length}) · sampled ${new Date(acc.sampled).toLocaleTimeString()}`}>
        {acc.leases.length === 0 ? <p class="muted">No active lease.</p> : (
          <table class="memlock-leases">
            <thead>
              <tr><th>Lease</th><th>uid</th><th>pid</th><th>Used</th><th>VmLck</th><th>VmPin</th><th>Peak</th><th>Limit</th><th>Level</th><th>Process</th></tr>
            </thead>
            <tbody>
              {acc.leases.map((l) => (
                <tr data-lease={l.leaseId}>
                  <td class="mono" title={l.leaseId}>{leaseKey(l.leaseId).slice(6)}</td>
                  <td>{l.uid}</td><td>{l.pid}</td>
                  <td class="used">{formatBytes(l.usedBytes)}</td><td>{formatBytes(l.vmLckBytes)}</td><td>{formatBytes(l.vmPinBytes)}</td>
                  <td>{formatBytes(l.peakBytes)}</td><td>{formatLimit(l.limitBytes)}</td><td><Level l={l.level} /></td>
                  <td>{l.processAlive ? 'alive' : <Badge kind="warn">gone</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Per principal and host">
        <table class="memlock-principals">
          <thead><tr><th>Principal</th><th>Leases</th><th>Used</th><th>Peak</th><th>Limit (sum)</th></tr></thead>
          <tbody>
            {acc.principals.map((p) => (
              <tr data-uid={p.uid}>
                <td>{principalKey(p.uid)}</td><td>{p.leases}</td><td>{formatBytes(p.usedBytes)}</td><td>{formatBytes(p.peakBytes)}</td><td>{formatLimit(p.limitBytes)}</td>
              </tr>
            ))}
            <tr class="host">
              <td><strong>host</strong></td><td>{acc.host.leases}</td><td>{formatBytes(acc.host.usedBytes)}</td><td>{formatBytes(acc.host.peakBytes)}</td><td>{formatLimit(acc.host.limitBytes)}</td>
            </tr>
          </tbody>
        </table>
      </Section>
    </>
  );
}

export function Memlock() {
  const [samples, setSamples] = useState<Sample[]>(history);
  const [latest, setLatest] = useState<AccountingReport | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>();
  // Threshold crossings and lease changes sample at once; use changes without events, hence the clock too.
  const tick = useLiveTick(['accounting', 'lease']);
  const [clock, setClock] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => setClock((n) => n + 1), SAMPLE_MS);
    return () => window.clearInterval(id);
  }, []);
  useEffect(() => {
    let stop = false;
    getJson<AccountingReport>('/api/v1/accounting').then(
      (acc) => {
        if (stop) return;
        history = appendSample(history, { t: Date.parse(acc.sampled) || Date.now(), values: memlockSeries(acc) }, KEEP);
        setSamples(history);
        setLatest(acc);
        setError(undefined);
      },
      (e: ApiError) => !stop && setError(e),
    );
    return () => {
      stop = true;
    };
  }, [tick, clock]);
  return (
    <>
      <h1>Locked memory</h1>
      {error?.missingEndpoint ? (
        <Unavailable what="Memlock accounting" error={error} />
      ) : (
        <>
          {error && <ErrorBox error={error} />}
          <Section title="memlock (max of VmLck, VmPin) per lease and principal, live">
            <Plot samples={samples} />
          </Section>
          {latest !== undefined && <Tables acc={latest} />}
        </>
      )}
    </>
  );
}
