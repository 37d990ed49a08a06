// Bind/release of a device or group, always through a dry run shown first.
import { del, postJson } from '../api';
import { ConfirmDialog, KeyValues, ObjectTable, Value } from '../ui';

export type BindTarget = { group: number } | { address: string };

function PlanView({ plan }: { plan: any }) {
  if (plan == null) return <p class="muted">The daemon returned no plan.</p>;
  if (typeof plan !== 'object') return <Value v={plan} />;
  const { steps, verdicts, ...rest } = plan;
  return (
    <div class="plan">
      {Array.isArray(verdicts) && verdicts.length > 0 && (
        <>
          <h5>Verdicts</h5>
          <ul class="verdicts">
            {verdicts.map((v: any) => (
              <li>{typeof v === 'object' ? <KeyValues o={v} /> : String(v)}</li>
            ))}
          </ul>
        </>
      )}
      {Array.isArray(steps) && (
        <>
          <h5>Steps ({steps.length})</h5>
          {steps.length === 0 ? <p class="muted">Nothing to write: already in that state.</p> : <ObjectTable rows={steps} columns={['action', 'path', 'value']} />}
        </>
      )}
      {Object.keys(rest).length > 0 && <KeyValues o={rest} />}
    </div>
  );
}

function label(t: BindTarget) {
  return 'group' in t ? `IOMMU group ${t.group}` : `device ${t.address}`;
}

export function BindDialog({ target, onClose }: { target: BindTarget; onClose: (changed: boolean) => void }) {
  return (
    <ConfirmDialog
      title={`Bind ${label(target)} to vfio-pci`}
      confirmLabel="Bind"
      preview={() => postJson('/api/v1/bindings', { ...target, dryRun: true })}
      renderPreview={(p) => <PlanView plan={p} />}
      run={() => postJson('/api/v1/bindings', { ...target, dryRun: false })}
      renderResult={(r) => <PlanView plan={r} />}
      onClose={onClose}
    />
  );
}

export function ReleaseDialog({ group, onClose }: { group: number; onClose: (changed: boolean) => void }) {
  const path = `/api/v1/bindings/${group}`;
  return (
    <ConfirmDialog
      title={`Release IOMMU group ${group} (restore original drivers)`}
      confirmLabel="Release"
      danger
      preview={() => del(`${path}?dryRun=true`)}
      renderPreview={(p) => <PlanView plan={p} />}
      run={() => del(path)}
      renderResult={(r) => <PlanView plan={r} />}
      onClose={onClose}
    />
  );
}
