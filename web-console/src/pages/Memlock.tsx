import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson } from '../api';
import { appendSample, formatBytes, memlockSeries, Sample } from '../model';
import { ErrorBox, Section, Unavailable, Value } from '../ui';

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
  const max = Math.max(1, ...samples.flatMap((s) => Object.values(s.values)));
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
  const y = (v: number) => 10 + (1 - v / max) * (H - B - 10);
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
            data-series={k}
            points={samples.filter((s) => k in s.values).map((s) => `${x(s.t).toFixed(1)},${y(s.values[k]).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
      <figcaption>
        {keys.length === 0 ? <span class="muted">No lease holds locked memory.</span> : keys.map((k, i) => (
          <span class="legend"><span class="swatch" style={{ background: COLORS[i % COLORS.length] }} />{k}: {formatBytes(samples[samples.length - 1].values[k])}</span>
        ))}
      </figcaption>
    </figure>
  );
}

export function Memlock() {
  const [samples, setSamples] = useState<Sample[]>(history);
  const [latest, setLatest] = useState<any>(undefined);
  const [error, setError] = useState<ApiError | undefined>();
  useEffect(() => {
    let stop = false;
    // Memory use changes without events, so this page samples on its own clock.
    const sample = () =>
      getJson<any>('/api/v1/accounting').then(
        (acc) => {
          if (stop) return;
          history = appendSample(history, { t: Date.now(), values: memlockSeries(acc) }, KEEP);
          setSamples(history);
          setLatest(acc);
          setError(undefined);
        },
        (e: ApiError) => !stop && setError(e),
      );
    sample();
    const id = window.setInterval(sample, SAMPLE_MS);
    return () => {
      stop = true;
      window.clearInterval(id);
    };
  }, []);
  return (
    <>
      <h1>Locked memory</h1>
      {error?.missingEndpoint ? (
        <Unavailable what="Memlock accounting" error={error} />
      ) : (
        <>
          {error && <ErrorBox error={error} />}
          <Section title="memlock per lease and principal (live, sampled every 2 s)">
            <Plot samples={samples} />
          </Section>
          {latest !== undefined && (
            <Section title="Latest accounting">
              <Value v={latest} />
            </Section>
          )}
        </>
      )}
    </>
  );
}
