/**
 * Publishing from the export panel: a form per tool (MapSwipe, the Tasking Manager) with a preview (the
 * dry run: which projects, how many tiles or objects) and a publish button, then every publication of the
 * project with what each remote project reached. A failed one is resumed, a live one polled, with the
 * credentials typed in the form; nothing here stores them.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Project } from '../data/api.ts';
import { publishApi, type Plan, type Publication, type PublishTarget } from '../data/publish-api.ts';

const TIERS = ['high', 'medium', 'low'] as const;

interface Form {
  organisation: string;
  region: string;
  projectNumber: string;
  tiers: Record<(typeof TIERS)[number], boolean>;
  validate: boolean;
  username: string;
  password: string;
  firebaseToken: string;
  tmOrganisation: string;
  tmMode: 'clustered' | 'squares';
  tmToken: string;
}

const initial: Form = {
  organisation: '',
  region: '',
  projectNumber: '1',
  tiers: { high: true, medium: true, low: false },
  validate: true,
  username: '',
  password: '',
  firebaseToken: '',
  tmOrganisation: '',
  tmMode: 'clustered',
  tmToken: '',
};

function credentials(target: PublishTarget, f: Form) {
  if (target === 'tasking-manager') return f.tmToken ? { token: f.tmToken } : undefined;
  if (f.firebaseToken) return { firebaseToken: f.firebaseToken };
  return f.username && f.password ? { username: f.username, password: f.password } : undefined;
}

function request(target: PublishTarget, f: Form): Record<string, unknown> {
  if (target === 'tasking-manager') return { organisation: Number(f.tmOrganisation), mode: f.tmMode };
  const tiers = TIERS.filter((t) => f.tiers[t]);
  return {
    organisation: f.organisation.trim(),
    region: f.region.trim(),
    projectNumber: Number(f.projectNumber),
    find: tiers.length ? { tiers } : false,
    validate: f.validate ? { objects: 'model' } : false,
  };
}

function field(
  label: string,
  value: string,
  set: (v: string) => void,
  o: { type?: string; name: string; width?: string },
) {
  return h(
    'label',
    { class: 'row small publish-field' },
    label,
    h('input', {
      type: o.type ?? 'text',
      name: o.name,
      value,
      autocomplete: o.type === 'password' ? 'off' : undefined,
      style: o.width ? { width: o.width } : undefined,
      onInput: (e: Event) => set((e.target as HTMLInputElement).value),
    }),
  );
}

function PlanView(props: { plan: Plan }) {
  const p = props.plan;
  return h(
    'div',
    { class: 'publish-plan', 'data-plan': p.target },
    h(
      'p',
      { class: 'small' },
      `Preview: ${p.projects.length} project(s) at ${p.baseUrl ?? 'no configured address'}`,
    ),
    h(
      'ul',
      { class: 'small' },
      p.projects.map((x) =>
        h(
          'li',
          { key: x.key, 'data-planned': x.key },
          `${x.key} (${x.kind}): ${x.steps.length} steps`,
          x.summary.tiles !== undefined ? `, ${x.summary.tiles} tiles` : '',
          x.summary.objects !== undefined ? `, ${x.summary.objects} objects` : '',
          x.summary.tasks !== undefined ? `, ${x.summary.tasks} tasks` : '',
        ),
      ),
    ),
    p.notes.map((n) => h('p', { class: 'muted small', key: n }, n)),
  );
}

function PublicationRow(props: {
  pub: Publication;
  onResume: () => void;
  onPoll: () => void;
  busy: boolean;
}) {
  const p = props.pub;
  return h(
    'div',
    { class: 'publication', 'data-publication': p.id, 'data-status': p.status },
    h(
      'div',
      { class: 'small' },
      h('strong', null, `#${p.id} ${p.target === 'mapswipe' ? 'MapSwipe' : 'Tasking Manager'}`),
      ` · ${p.status}`,
      p.status !== 'done'
        ? h(
            'button',
            { class: 'button small', disabled: props.busy, onClick: props.onResume, 'data-action': 'resume' },
            'Resume',
          )
        : h(
            'button',
            { class: 'button small', disabled: props.busy, onClick: props.onPoll, 'data-action': 'poll' },
            'Check status',
          ),
    ),
    p.error ? h('p', { class: 'error small' }, p.error) : null,
    h(
      'ul',
      { class: 'small' },
      p.projects.map((x) =>
        h(
          'li',
          { key: x.key, 'data-remote': x.remoteId ?? '' },
          `${x.key}: ${x.stage}`,
          x.remoteId ? ` · id ${x.remoteId}` : '',
          x.remoteStatus ? ` · ${x.remoteStatus}` : '',
          x.statusMessage ? ` (${x.statusMessage})` : '',
        ),
      ),
    ),
  );
}

export function PublishSection(props: { project: Project }) {
  const id = props.project.id;
  const [open, setOpen] = useState<PublishTarget | null>(null);
  const [form, setForm] = useState<Form>(initial);
  const [plan, setPlan] = useState<Plan | null>(null);
  const [pubs, setPubs] = useState<Publication[]>([]);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [version, setVersion] = useState(0);
  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  useEffect(() => {
    let live = true;
    publishApi.list(id).then(
      (r) => live && setPubs(r.publications),
      (e: Error) => live && setNote({ kind: 'error', text: e.message }),
    );
    return () => {
      live = false;
    };
  }, [id, version]);

  const act = async (what: () => Promise<string>) => {
    setBusy(true);
    setNote(null);
    try {
      setNote({ kind: 'ok', text: await what() });
    } catch (e) {
      const err = e as Error & { hint?: string };
      setNote({ kind: 'error', text: err.hint ? `${err.message} — ${err.hint}` : err.message });
    } finally {
      setBusy(false);
      setVersion((v) => v + 1);
    }
  };
  const preview = (target: PublishTarget) =>
    act(async () => {
      const p = (await publishApi.publish(id, target, { ...request(target, form), dryRun: true })) as Plan;
      setPlan(p);
      return `Preview ready: ${p.projects.length} project(s)`;
    });
  const publish = (target: PublishTarget) =>
    act(async () => {
      const pub = (await publishApi.publish(id, target, {
        ...request(target, form),
        credentials: credentials(target, form),
      })) as Publication;
      setPlan(null);
      return `Publication ${pub.id}: ${pub.status}, ${pub.projects.length} project(s) sent`;
    });
  const withCreds = (p: Publication, call: (c: unknown) => Promise<Publication>, verb: string) =>
    act(async () => {
      const c = credentials(p.target, form);
      if (!c) {
        setOpen(p.target);
        throw new Error(
          `${verb} signs in again: fill in the ${p.target === 'mapswipe' ? 'MapSwipe' : 'Tasking Manager'} credentials below`,
        );
      }
      const r = await call(c);
      return `Publication ${r.id}: ${r.status}`;
    });

  const actions = (t: PublishTarget) =>
    h(
      'div',
      { class: 'exports' },
      h(
        'button',
        { class: 'button', disabled: busy, onClick: () => preview(t), 'data-action': 'preview' },
        'Preview',
      ),
      h(
        'button',
        { class: 'button', disabled: busy, onClick: () => publish(t), 'data-action': 'publish' },
        'Publish',
      ),
    );
  const toggle = (t: PublishTarget) => {
    setPlan(null);
    setOpen(open === t ? null : t);
  };
  return h(
    'div',
    { class: 'publish', id: 'publish' },
    h('h3', null, 'Publish for volunteers'),
    h(
      'div',
      { class: 'exports' },
      h(
        'button',
        { class: 'button', 'data-action': 'open-mapswipe', onClick: () => toggle('mapswipe') },
        'Publish to MapSwipe…',
      ),
      h(
        'button',
        { class: 'button', 'data-action': 'open-tasking-manager', onClick: () => toggle('tasking-manager') },
        'Publish to the Tasking Manager…',
      ),
    ),
    open === 'mapswipe'
      ? h(
          'div',
          { class: 'publish-form', 'data-form': 'mapswipe' },
          field('Organisation id', form.organisation, (v) => set({ organisation: v }), {
            name: 'organisation',
            width: '60px',
          }),
          field('Region', form.region, (v) => set({ region: v }), { name: 'region', width: '120px' }),
          field('Project number', form.projectNumber, (v) => set({ projectNumber: v }), {
            name: 'projectNumber',
            type: 'number',
            width: '50px',
          }),
          h(
            'div',
            { class: 'row small' },
            'Find projects for',
            TIERS.map((t) =>
              h(
                'label',
                { key: t, class: 'row' },
                h('input', {
                  type: 'checkbox',
                  name: `tier-${t}`,
                  checked: form.tiers[t],
                  onChange: () => set({ tiers: { ...form.tiers, [t]: !form.tiers[t] } }),
                }),
                t,
              ),
            ),
          ),
          h(
            'label',
            { class: 'row small' },
            h('input', {
              type: 'checkbox',
              name: 'validate',
              checked: form.validate,
              onChange: () => set({ validate: !form.validate }),
            }),
            'and a Validate project of the predicted buildings',
          ),
          field('MapSwipe user', form.username, (v) => set({ username: v }), {
            name: 'username',
            width: '110px',
          }),
          field('password', form.password, (v) => set({ password: v }), {
            name: 'password',
            type: 'password',
            width: '110px',
          }),
          field('or Firebase token', form.firebaseToken, (v) => set({ firebaseToken: v }), {
            name: 'firebaseToken',
            type: 'password',
            width: '110px',
          }),
          actions('mapswipe'),
        )
      : null,
    open === 'tasking-manager'
      ? h(
          'div',
          { class: 'publish-form', 'data-form': 'tasking-manager' },
          field('TM organisation id', form.tmOrganisation, (v) => set({ tmOrganisation: v }), {
            name: 'tmOrganisation',
            type: 'number',
            width: '60px',
          }),
          h(
            'label',
            { class: 'row small' },
            'Tasks',
            h(
              'select',
              {
                name: 'tmMode',
                value: form.tmMode,
                onChange: (e: Event) =>
                  set({ tmMode: (e.target as HTMLSelectElement).value as Form['tmMode'] }),
              },
              h('option', { value: 'clustered' }, 'clustered tiles (arbitrary tasks)'),
              h('option', { value: 'squares' }, 'task squares'),
            ),
          ),
          field('TM token', form.tmToken, (v) => set({ tmToken: v }), {
            name: 'tmToken',
            type: 'password',
            width: '140px',
          }),
          actions('tasking-manager'),
        )
      : null,
    plan ? h(PlanView, { plan }) : null,
    note
      ? h('p', { class: note.kind === 'error' ? 'error small' : 'small', role: 'status' }, note.text)
      : null,
    pubs.map((p) =>
      h(PublicationRow, {
        key: p.id,
        pub: p,
        busy,
        onResume: () => withCreds(p, (c) => publishApi.resume(p.id, c), 'Resuming'),
        onPoll: () => withCreds(p, (c) => publishApi.poll(p.id, c), 'Checking'),
      }),
    ),
  );
}
