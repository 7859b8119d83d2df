/**
 * The schema in Postgres's types: every table of `schema.ts` as a drizzle `pgTable`, derived from the SQLite
 * declaration's own table config (columns, keys, references, indexes, checks), so the tables are declared once
 * and the two dialects cannot drift apart. `npx drizzle-kit generate --config drizzle.pg.config.ts` turns
 * changes into the SQL under `migrations/pg/`, as `drizzle.config.ts` does for `migrations/`.
 *
 * Each SQLite column kind has one Postgres type that keeps the value drizzle hands back the same: integers,
 * booleans, doubles, text with its enum, JSON (jsonb), buffers (bytea), and the millisecond timestamps SQLite
 * stores as integers become `timestamp with time zone` at millisecond precision (a Date either way).
 * A kind, a default or an index this derivation does not know fails loudly at import, naming the column,
 * rather than producing a Postgres table that differs from the SQLite one.
 */
import { getTableColumns, is, SQL } from 'drizzle-orm';
import {
  boolean,
  check,
  customType,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  type PgColumn,
  type PgTableWithColumns,
} from 'drizzle-orm/pg-core';
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as sqlite from './schema.ts';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * The type of the table derived from SQLite table `T`: the same name, the same property names, and each column
 * with the data, nullability and defaults of its SQLite column, so its rows (`$inferSelect`, `$inferInsert`)
 * are the SQLite table's, and repository code written once reads and writes the same values on either store.
 */
export type DerivedPgTable<T extends SQLiteTable = SQLiteTable> = PgTableWithColumns<{
  name: T['_']['name'];
  schema: undefined;
  columns: { [K in keyof T['_']['columns']]: DerivedPgColumn<T['_']['columns'][K], T['_']['name']> };
  dialect: 'pg';
}>;

type DerivedPgColumn<C extends SQLiteColumn, TableName extends string> = PgColumn<{
  name: C['_']['name'];
  tableName: TableName;
  dataType: C['_']['dataType'];
  columnType: 'PgDerived';
  data: C['_']['data'];
  driverParam: unknown;
  notNull: C['_']['notNull'];
  hasDefault: C['_']['hasDefault'];
  isPrimaryKey: C['_']['isPrimaryKey'];
  isAutoincrement: C['_']['isAutoincrement'];
  hasRuntimeDefault: C['_']['hasRuntimeDefault'];
  enumValues: C['_']['enumValues'];
  baseColumn: never;
  identity: undefined;
  generated: undefined;
}>;

const derived = new Map<SQLiteTable, PgTableWithColumns<any>>();

function where(table: SQLiteTable, column: SQLiteColumn): string {
  return `${getTableConfig(table).name}.${column.name}`;
}

function pgColumnBuilder(table: SQLiteTable, column: SQLiteColumn) {
  const c = column as SQLiteColumn & { autoIncrement?: boolean; enumValues?: string[] };
  switch (c.columnType) {
    case 'SQLiteInteger': {
      const b = integer(c.name);
      return c.autoIncrement ? b.primaryKey().generatedByDefaultAsIdentity() : b;
    }
    case 'SQLiteBoolean':
      return boolean(c.name);
    case 'SQLiteTimestamp':
      return timestamp(c.name, { withTimezone: true, precision: 3, mode: 'date' });
    case 'SQLiteReal':
      return doublePrecision(c.name);
    case 'SQLiteText':
      return c.enumValues && c.enumValues.length > 0
        ? text(c.name, { enum: c.enumValues as [string, ...string[]] })
        : text(c.name);
    case 'SQLiteTextJson':
    case 'SQLiteBlobJson':
      return jsonb(c.name);
    case 'SQLiteBlobBuffer':
      return bytea(c.name);
    default:
      throw new Error(`schema-pg: no Postgres type for ${where(table, c)} (${c.columnType})`);
  }
}

function pgColumn(table: SQLiteTable, column: SQLiteColumn) {
  const c = column as SQLiteColumn & { autoIncrement?: boolean };
  // The builders' chained types differ per kind; what follows is the same call on each of them.
  let b = pgColumnBuilder(table, c) as any;
  if (c.primary && !c.autoIncrement) b = b.primaryKey();
  if (c.notNull && !c.primary) b = b.notNull();
  if (c.hasDefault && c.default !== undefined) {
    if (!is(c.default, SQL)) b = b.default(c.default);
    // The one SQL default of the SQLite schema: the time of the insert, in milliseconds (`createdAt`).
    else if (c.columnType === 'SQLiteTimestamp') b = b.defaultNow();
    else throw new Error(`schema-pg: no Postgres default for ${where(table, c)}'s SQL default`);
  }
  if (c.defaultFn) b = b.$defaultFn(c.defaultFn);
  if (c.onUpdateFn) b = b.$onUpdateFn(c.onUpdateFn);
  return b;
}

/** The Postgres table of a SQLite table of `schema.ts`, derived once. */
export function pgTableOf<T extends SQLiteTable>(table: T): DerivedPgTable<T> {
  const known = derived.get(table);
  if (known) return known as unknown as DerivedPgTable<T>;
  const config = getTableConfig(table);
  const columns = getTableColumns(table) as Record<string, SQLiteColumn>;
  const keyOf = new Map(Object.entries(columns).map(([key, column]) => [column, key]));
  const builders = Object.fromEntries(
    Object.entries(columns).map(([key, column]) => [key, pgColumn(table, column)]),
  );
  const result = pgTable(config.name, builders, (t) => {
    const pg = (column: SQLiteColumn): PgColumn => t[keyOf.get(column)!] as PgColumn;
    const pgOf = (other: SQLiteTable, column: SQLiteColumn): PgColumn => {
      const otherKey = Object.entries(getTableColumns(other)).find(([, c]) => c === column)![0];
      return (pgTableOf(other) as unknown as Record<string, PgColumn>)[otherKey];
    };
    const onColumns = (cs: unknown[]): [PgColumn, ...PgColumn[]] => {
      const mapped = cs.map((c) => {
        if (is(c, SQL)) throw new Error(`schema-pg: an index on an expression in ${config.name}`);
        return pg(c as SQLiteColumn);
      });
      return mapped as [PgColumn, ...PgColumn[]];
    };
    return [
      ...config.primaryKeys.map((pk) => primaryKey({ columns: onColumns(pk.columns) })),
      ...config.uniqueConstraints.map((u) => unique(u.name).on(...onColumns(u.columns))),
      ...config.foreignKeys.map((fk) => {
        const ref = fk.reference();
        const built = foreignKey({
          columns: onColumns(ref.columns),
          foreignColumns: ref.foreignColumns.map((c) => pgOf(ref.foreignTable, c)) as [
            PgColumn,
            ...PgColumn[],
          ],
        });
        if (fk.onDelete) built.onDelete(fk.onDelete);
        if (fk.onUpdate) built.onUpdate(fk.onUpdate);
        return built;
      }),
      ...config.indexes.map((ix) => {
        const { name, unique: isUnique, columns: cs, where: condition } = ix.config;
        const built = (isUnique ? uniqueIndex(name) : index(name)).on(...onColumns(cs));
        return condition ? built.where(condition) : built;
      }),
      // The SQLite checks are plain SQL over column names (`in (…)`, comparisons, coalesce): Postgres reads them as they are.
      ...config.checks.map((c) => check(c.name, c.value)),
    ];
  });
  derived.set(table, result);
  return result as unknown as DerivedPgTable<T>;
}

export const models = pgTableOf(sqlite.models);
export const datasets = pgTableOf(sqlite.datasets);
export const analysisRuns = pgTableOf(sqlite.analysisRuns);
export const patches = pgTableOf(sqlite.patches);
export const clusters = pgTableOf(sqlite.clusters);
export const imagerySources = pgTableOf(sqlite.imagerySources);
export const projects = pgTableOf(sqlite.projects);
export const scoringJobs = pgTableOf(sqlite.scoringJobs);
export const tileScores = pgTableOf(sqlite.tileScores);
export const patchEvidence = pgTableOf(sqlite.patchEvidence);
export const labelErrorScores = pgTableOf(sqlite.labelErrorScores);
export const labelObjects = pgTableOf(sqlite.labelObjects);
export const reviewMarks = pgTableOf(sqlite.reviewMarks);
export const patchIntervals = pgTableOf(sqlite.patchIntervals);
export const insightRecords = pgTableOf(sqlite.insightRecords);
export const latentColumns = pgTableOf(sqlite.latentColumns);
export const calibrationSamples = pgTableOf(sqlite.calibrationSamples);
export const calibrationSampleTiles = pgTableOf(sqlite.calibrationSampleTiles);
export const labelImports = pgTableOf(sqlite.labelImports);
export const tileLabels = pgTableOf(sqlite.tileLabels);
export const publications = pgTableOf(sqlite.publications);
export const publishedProjects = pgTableOf(sqlite.publishedProjects);
export const fairImports = pgTableOf(sqlite.fairImports);
export const fairPredictions = pgTableOf(sqlite.fairPredictions);
export const fairTileSignals = pgTableOf(sqlite.fairTileSignals);

// ── the rows agree ───────────────────────────────────────────────────────────────────────────────────

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** True when the derived table reads and writes exactly the SQLite table's rows. */
type RowsAgree<T extends SQLiteTable> =
  Same<DerivedPgTable<T>['$inferSelect'], T['$inferSelect']> extends true
    ? Same<DerivedPgTable<T>['$inferInsert'], T['$inferInsert']>
    : false;
type Assert<T extends true> = T;
/** A compile-time check, spelled out per table so a failure names the table: the repositories rely on it. */
export type DerivedRowsAgree = [
  Assert<RowsAgree<typeof sqlite.models>>,
  Assert<RowsAgree<typeof sqlite.datasets>>,
  Assert<RowsAgree<typeof sqlite.analysisRuns>>,
  Assert<RowsAgree<typeof sqlite.patches>>,
  Assert<RowsAgree<typeof sqlite.clusters>>,
  Assert<RowsAgree<typeof sqlite.imagerySources>>,
  Assert<RowsAgree<typeof sqlite.projects>>,
  Assert<RowsAgree<typeof sqlite.scoringJobs>>,
  Assert<RowsAgree<typeof sqlite.tileScores>>,
  Assert<RowsAgree<typeof sqlite.patchEvidence>>,
  Assert<RowsAgree<typeof sqlite.labelErrorScores>>,
  Assert<RowsAgree<typeof sqlite.labelObjects>>,
  Assert<RowsAgree<typeof sqlite.reviewMarks>>,
  Assert<RowsAgree<typeof sqlite.patchIntervals>>,
  Assert<RowsAgree<typeof sqlite.insightRecords>>,
  Assert<RowsAgree<typeof sqlite.latentColumns>>,
  Assert<RowsAgree<typeof sqlite.calibrationSamples>>,
  Assert<RowsAgree<typeof sqlite.calibrationSampleTiles>>,
  Assert<RowsAgree<typeof sqlite.labelImports>>,
  Assert<RowsAgree<typeof sqlite.tileLabels>>,
  Assert<RowsAgree<typeof sqlite.publications>>,
  Assert<RowsAgree<typeof sqlite.publishedProjects>>,
  Assert<RowsAgree<typeof sqlite.fairImports>>,
  Assert<RowsAgree<typeof sqlite.fairPredictions>>,
  Assert<RowsAgree<typeof sqlite.fairTileSignals>>,
];
