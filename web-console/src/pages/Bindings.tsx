// Bind/release of a device or group, always through the daemon's dry run shown first.
import { del, postJson } from '../api';
import { ConfirmDialog, KeyValues, ObjectTable } from '../ui';

export type BindTarget = { group: number } | { address: string };

/** The daemon's BindingPlan: group members now, the exact sysfs writes, and refusals that stop it. */
export interface Plan {
  operation?: string;
  group?: number;
  requested?: string | null;
  members?: { address: string; driver: string | null; driverOverride: string | null; action: string }[];
  steps?: { action: string; path: string; value: string }[];
  refusals?: string[];
  driverStatus?: string;
  [k: string]: unknown;
}

export function PlanView({ plan }: { plan: Plan | null | undefined }) {
  if (plan == null || typeof plan !== 'object') return <p class="muted">The daemon returned no plan.</p>;
  const { operation, group, requested, members, steps, refusals, driverStatus, ...rest } = plan;
  return (
    <div class="plan">
      <p>
        {operation ?? 'operation'} of IOMMU group <strong>{group ?? '?'}</strong>
        {requested ? <> (asked for {requested})</> : null}
        {driverStatus ? <span class="muted"> · {driverStatus}</span> : null}
      </p>
      {Array.isArray(refusals) && refusals.length > 0 && (
        <div class="error" role="alert">
          <strong>Refused — nothing will be written:</strong>
          <ul>{refusals.map((r) => <li>{r}</li>)}</ul>
        </div>
      )}
      {Array.isArray(members) && members.length > 0 && (
        <>
          <h5>Group members</h5>
          <ObjectTable rows={members} columns={['address', 'driver', 'driverOverride', 'action']} />
        </>
      )}
      {Array.isArray(steps) && (
        <>
          <h5>sysfs writes ({steps.length})</h5>
          {steps.length === 0 ? <p class="muted">Nothing to write: already in that state.</p> : <ObjectTable rows={steps} columns={['action', 'path', 'value']} />}
        </>
      )}
      {Object.keys(rest).length > 0 && <KeyValues o={rest} />}
    </div>
  );
}

const refused = (p: Plan) => (p?.refusals?.length ? 'The dry run was refused, so this cannot be confirmed.' : null);

function label(t: BindTarget) {
  return 'group' in t ? `IOMMU group ${t.group}` : `device ${t.address} (and its IOMMU group)`;
}

export function BindDialog({ target, onClose }: { target: BindTarget; onClose: (changed: boolean) => void }) {
  return (
    <ConfirmDialog<Plan, Plan>
      title={`Bind ${label(target)} to vfio-pci`}
      confirmLabel="Bind"
      preview={() => postJson('/api/v1/bindings', { ...target, dryRun: true })}
      renderPreview={(p) => <PlanView plan={p} />}
      blockedBy={refused}
      run={() => postJson('/api/v1/bindings', { ...target, dryRun: false })}
      renderResult={(r) => <PlanView plan={r} />}
      onClose={onClose}
    />
  );
}

export function ReleaseDialog({ group, onClose }: { group: number; onClose: (changed: boolean) => void }) {
  const path = `/api/v1/bindings/${group}`;
  return (
    <ConfirmDialog<Plan, Plan>
      title={`Release IOMMU group ${group} (restore the original drivers)`}
      confirmLabel="Release"
      danger
      preview={() => del(`${path}?dryRun=true`)}
      renderPreview={(p) => <PlanView plan={p} />}
      blockedBy={refused}
      run={() => del(path)}
      renderResult={(r) => <PlanView plan={r} />}
      onClose={onClose}
    />
  );
}
