/**
 * Server settings: one table `(name, default, help)` that the CLI's `--help`, the README's settings table
 * and a test read, so a setting nobody documented cannot exist. Every setting is also a CLI flag of the
 * same name (`--max-tile-features 2000`) and, where `env` is set, an environment variable.
 */
import { dataDir as defaultDataDir, defaultDbPath } from './lib/paths.ts';
import { TilelensError } from './lib/errors.ts';
import { AllowList } from './lib/imagery/outbound.ts';
import { DEFAULT_HOST_CONCURRENCY } from './lib/imagery/source.ts';

type Kind = 'string' | 'int' | 'optional-string';

interface SettingDef<K extends Kind = Kind> {
  name: string;
  kind: K;
  default: K extends 'int' ? number : K extends 'string' ? string : string | undefined;
  help: string;
  env?: string;
  min?: number;
  max?: number;
  /** Throws with the reason when a value cannot be used. */
  check?: (value: string) => void;
}

/** The table itself. Names are the CLI flags; `settingKey` turns them into the camelCase keys of `Settings`. */
export const SETTINGS = [
  {
    name: 'host',
    kind: 'string',
    default: '127.0.0.1',
    help: 'Interface to listen on. Only this machine can reach the server unless you give another address (e.g. 0.0.0.0) explicitly.',
  },
  {
    name: 'port',
    kind: 'int',
    default: 8700,
    min: 0,
    max: 65535,
    help: 'TCP port to listen on; 0 picks a free one.',
  },
  {
    name: 'db',
    kind: 'string',
    default: defaultDbPath,
    env: 'TILELENS_DB',
    help: 'The store holding runs, imagery, projects and scored tiles: a SQLite file (created with its migrations if absent), or a postgres://… URL of the shared store, whose scoring jobs go through its chunk queue to `tilelens worker` processes.',
  },
  {
    name: 'data-dir',
    kind: 'string',
    default: defaultDataDir,
    env: 'TILELENS_DATA_DIR',
    help: 'Folder for generated data: imagery caches, the manager token file, relative imagery paths resolve under it.',
  },
  {
    name: 'public-url',
    kind: 'optional-string',
    default: undefined,
    env: 'TILELENS_PUBLIC_URL',
    help: 'Base URL other tools reach this server at (MapSwipe, the Tasking Manager); written into exported tile-server URLs. Defaults to the URL of the request.',
  },
  {
    name: 'max-tile-features',
    kind: 'int',
    default: 5000,
    min: 1,
    max: 100_000,
    help: 'Most scored tiles one GET /api/projects/:id/tiles answer holds; larger areas are paged by bbox (vector tiles later).',
  },
  {
    name: 'max-patch-rows',
    kind: 'int',
    default: 200_000,
    min: 1,
    max: 200_000,
    help: 'Most patches one columnar GET /api/runs/:id/patches page holds; page on with offset.',
  },
  {
    name: 'prediction-cache',
    kind: 'int',
    default: 256,
    min: 0,
    max: 100_000,
    help: 'Prediction PNGs of training patches kept in memory (about 10 KB each); 0 re-runs the model for every request.',
  },
  {
    name: 'imagery-max-age',
    kind: 'int',
    default: 86_400,
    min: 0,
    max: 31_536_000,
    help: 'Seconds MapSwipe, the Tasking Manager and browsers may cache a served imagery tile (Cache-Control max-age).',
  },
  {
    name: 'max-upload-bytes',
    kind: 'int',
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
    help: 'Largest file an import takes (MapSwipe results, as sent; gzip welcome, expanding to at most 4× this). Larger uploads are refused with 413 and nothing stored.',
  },
  {
    name: 'mapswipe-url',
    kind: 'optional-string',
    default: undefined,
    env: 'TILELENS_MAPSWIPE_URL',
    help: "MapSwipe's backend that `publish mapswipe` creates projects in (its GraphQL API at /graphql/). Unset: publishing to MapSwipe is off; dry runs still show the plan.",
  },
  {
    name: 'tasking-manager-url',
    kind: 'optional-string',
    default: undefined,
    env: 'TILELENS_TASKING_MANAGER_URL',
    help: 'Tasking Manager that `publish tasking-manager` creates drafts in (its API at /api/v2/). Unset: publishing to the Tasking Manager is off; dry runs still show the plan.',
  },
  {
    name: 'scoring-batch',
    kind: 'int',
    default: 16,
    min: 1,
    max: 256,
    help: 'Tiles per model batch in scoring jobs started through the API.',
  },
  {
    name: 'imagery-allow-hosts',
    kind: 'optional-string',
    default: undefined,
    env: 'TILELENS_IMAGERY_ALLOW_HOSTS',
    check: (v: string) => void AllowList.parse(v),
    help: 'XYZ imagery is fetched only from public addresses; this comma-separated list of host names, IP addresses and CIDR ranges (127.0.0.1, 10.0.0.0/8, tiles.lan) may be reached although loopback, private or link-local.',
  },
  {
    name: 'imagery-dirs',
    kind: 'optional-string',
    default: undefined,
    env: 'TILELENS_IMAGERY_DIRS',
    help: 'Folders besides the data dir (separated by : as in PATH) that PMTiles and GeoTIFF imagery and XYZ tile caches registered over the API may lie in. Nothing else on the server can be named.',
  },
  {
    name: 'imagery-concurrency',
    kind: 'int',
    default: DEFAULT_HOST_CONCURRENCY,
    min: 1,
    max: 64,
    help: 'Requests in flight per XYZ imagery source (its host) unless its spec says; a stalled request then holds up one tile, not the job.',
  },
  {
    name: 'max-body-bytes',
    kind: 'int',
    default: 65_536,
    min: 1024,
    max: 16 * 1024 * 1024,
    help: 'Largest request body the API reads, except project areas; a larger one is refused with 413 before it is parsed.',
  },
  {
    name: 'max-area-bytes',
    kind: 'int',
    default: 8 * 1024 * 1024,
    min: 1024,
    max: 256 * 1024 * 1024,
    help: 'Largest body of POST /api/projects (the area GeoJSON); areas are also held to 100,000 vertices.',
  },
] as const satisfies readonly SettingDef[];

type Def = (typeof SETTINGS)[number];
type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;
type ValueOf<D extends Def> = D['kind'] extends 'int'
  ? number
  : D['kind'] extends 'string'
    ? string
    : string | undefined;

export type Settings = { [D in Def as CamelCase<D['name']>]: ValueOf<D> };

export class SettingsError extends TilelensError {
  override name = 'SettingsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('settings', message, { status: 400, cause: options?.cause });
  }
}

export function settingKey(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function parseValue(def: SettingDef, raw: string, from: string): string | number {
  if (def.kind !== 'int') {
    try {
      def.check?.(raw);
    } catch (err) {
      throw new SettingsError(`${from}: ${(err as Error).message}; see --help`);
    }
    return raw;
  }
  const n = Number(raw);
  const min = def.min ?? Number.MIN_SAFE_INTEGER;
  const max = def.max ?? Number.MAX_SAFE_INTEGER;
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(`${from} must be an integer from ${min} to ${max}, got "${raw}"; see --help`);
  }
  return n;
}

/**
 * Settings from, lowest precedence first: the table's defaults, environment variables, explicit values
 * (CLI flags or a test's overrides), keyed by setting name (`max-tile-features`) or key (`maxTileFeatures`).
 */
export function resolveSettings(
  explicit: Record<string, string | number | undefined> = {},
  env: Record<string, string | undefined> = {},
): Settings {
  const known = new Map<string, SettingDef>();
  for (const def of SETTINGS as readonly SettingDef[]) {
    known.set(def.name, def);
    known.set(settingKey(def.name), def);
  }
  for (const key of Object.keys(explicit)) {
    if (!known.has(key)) {
      throw new SettingsError(
        `unknown setting "${key}"; choose from ${SETTINGS.map((s) => s.name).join(', ')}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const def of SETTINGS as readonly SettingDef[]) {
    const key = settingKey(def.name);
    let value: unknown = def.default;
    const fromEnv = def.env ? env[def.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') value = parseValue(def, fromEnv, def.env!);
    const given = explicit[def.name] ?? explicit[key];
    if (given !== undefined)
      value =
        typeof given === 'number'
          ? parseValue(def, String(given), `--${def.name}`)
          : parseValue(def, given, `--${def.name}`);
    out[key] = value;
  }
  return out as Settings;
}

function defaultText(def: SettingDef): string {
  return def.default === undefined ? '(none)' : String(def.default);
}

/** The settings part of `--help`. */
export function settingsHelp(): string {
  const width = Math.max(...SETTINGS.map((s) => s.name.length)) + 4;
  return (SETTINGS as readonly SettingDef[])
    .map((s) => {
      const flag = `--${s.name}`.padEnd(width + 2);
      const env = s.env ? `; env ${s.env}` : '';
      return `  ${flag}${s.help} [default: ${defaultText(s)}${env}]`;
    })
    .join('\n');
}

/** The README's settings table; regenerate it with `npx tsx server/main.ts --settings-table`. */
export function settingsMarkdownTable(): string {
  const rows = (SETTINGS as readonly SettingDef[]).map((s) => {
    const dflt =
      s.name === 'db' || s.name === 'data-dir'
        ? `\`${s.name === 'db' ? 'data/tilelens.db' : 'data'}\``
        : `\`${defaultText(s)}\``;
    return `| \`--${s.name}\` | ${dflt} | ${s.env ? `\`${s.env}\`` : ''} | ${s.help} |`;
  });
  return ['| setting | default | environment | what it does |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}
