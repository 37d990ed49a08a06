import { useState } from 'preact/hooks';
import { pick } from '../model';
import { useResource } from '../resource';
import { Load, ObjectTable, Section } from '../ui';

export function Audit() {
  const [page, setPage] = useState(0);
  const audit = useResource<any>(`/api/v1/audit?page=${page}`);
  return (
    <>
      <h1>Audit log</h1>
      <Load res={audit} what="Audit log">
        {(data) => {
          const entries: any[] = Array.isArray(data) ? data : (pick(data, 'entries', 'items', 'content', 'records') ?? []);
          const total = pick(data, 'totalPages', 'pages');
          const hasNext = total != null ? page + 1 < total : pick(data, 'hasNext', 'more') ?? entries.length > 0;
          return (
            <Section
              title={`Page ${page + 1}${total != null ? ` of ${total}` : ''}`}
              actions={
                <div class="pager">
                  <button disabled={page === 0} onClick={() => setPage(page - 1)}>← Newer</button>
                  <button disabled={!hasNext} onClick={() => setPage(page + 1)}>Older →</button>
                </div>
              }
            >
              {entries.length === 0 ? <p class="muted">No audit entries on this page.</p> : <ObjectTable rows={entries} />}
            </Section>
          );
        }}
      </Load>
    </>
  );
}
