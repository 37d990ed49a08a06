import { useState } from 'preact/hooks';
import { useResource } from '../resource';
import type { AuditRecord } from '../types';
import { Load, Section } from '../ui';

const SIZE = 50;

function Fields({ f }: { f: Record<string, unknown> }) {
  return (
    <span class="fields">
      {Object.entries(f).map(([k, v]) => (
        <span class="field"><span class="muted">{k}=</span>{typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)} </span>
      ))}
    </span>
  );
}

export function Audit() {
  const [page, setPage] = useState(0);
  // Every kind of event may come with an audit record.
  const audit = useResource<AuditRecord[]>(`/api/v1/audit?page=${page}&size=${SIZE}`);
  return (
    <>
      <h1>Audit log</h1>
      <Load res={audit} what="Audit log">
        {(entries) => (
          <Section
            title={`Page ${page + 1} · newest first`}
            actions={
              <div class="pager">
                <button disabled={page === 0} onClick={() => setPage(page - 1)}>← Newer</button>
                <button disabled={entries.length < SIZE} onClick={() => setPage(page + 1)}>Older →</button>
              </div>
            }
          >
            {entries.length === 0 ? <p class="muted">No audit records on this page.</p> : (
              <table class="audit">
                <thead><tr><th>#</th><th>Time</th><th>Event</th><th>Fields</th></tr></thead>
                <tbody>
                  {entries.map((r) => (
                    <tr data-seq={r.seq} data-event={r.event}>
                      <td>{r.seq}</td>
                      <td class="small nowrap">{new Date(r.time).toLocaleString()}</td>
                      <td class="mono">{r.event}</td>
                      <td class="small mono"><Fields f={r.fields ?? {}} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        )}
      </Load>
    </>
  );
}
