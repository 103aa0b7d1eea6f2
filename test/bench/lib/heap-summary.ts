/**
 * Sums a V8 heap snapshot's self sizes by kind of object, or the difference between two
 * snapshots, optionally per connection:
 *
 *   npx tsx test/bench/lib/heap-summary.ts after.heapsnapshot
 *   npx tsx test/bench/lib/heap-summary.ts before.heapsnapshot after.heapsnapshot --per 2000
 *
 * Options: `--per N` divides by N (the connections opened between the two snapshots),
 * `--top N` prints that many rows (default 40), `--strings` splits strings by their first
 * characters and length, to tell ids from subjects, and `--shapes` splits objects by the
 * names of their properties, to tell one plain `Object` from another.
 *
 * Kinds are V8's constructor names for objects, function names for closures, and V8's own
 * names for its internals: `(object properties)` is a property backing store, `(object
 * elements)` an array's elements, `system / Map` a hidden class.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface RawSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

/** Count and self size of one kind of heap object. */
export interface KindTotal {
  count: number;
  bytes: number;
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);

function kindOf(type: string, name: string, splitStrings: boolean): string {
  if (STRING_TYPES.has(type)) {
    if (!splitStrings) return '(string)';
    const shown = JSON.stringify(name.slice(0, 8)).slice(1, -1);
    return `(string) "${shown}${name.length > 8 ? '…' : ''}" length ${name.length}`;
  }
  switch (type) {
    case 'object':
      return name;
    case 'closure':
      return `closure ${name || '(anonymous)'}`;
    case 'number':
      return '(heap number)';
    case 'regexp':
      return '(regexp)';
    case 'code':
      // Code objects are named after their function; only V8's own kinds are worth keeping apart.
      return name.startsWith('(') || name.startsWith('system /') ? `code ${name}` : '(code)';
    case 'bigint':
    case 'symbol':
      return `(${type})`;
    default:
      return `${type} ${name}`;
  }
}

/** How to tell kinds apart beyond V8's names. */
export interface SummaryOptions {
  /** Strings by their first characters and length. */
  readonly strings?: boolean;
  /** Objects also by the names of their (first ten) named properties. */
  readonly shapes?: boolean;
}

/** Self sizes of a `.heapsnapshot` file, summed by kind. */
export function summarize(path: string, options: SummaryOptions = {}): Map<string, KindTotal> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RawSnapshot;
  const { meta } = raw.snapshot;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const edgeCountAt = fields.indexOf('edge_count');
  const edgeWidth = meta.edge_fields.length;
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const propertyType = meta.edge_types[0].indexOf('property');
  const totals = new Map<string, KindTotal>();
  let edge = 0;
  for (let i = 0; i < raw.nodes.length; i += width) {
    const edges = raw.nodes[i + edgeCountAt]!;
    const firstEdge = edge;
    edge += edges * edgeWidth;
    const bytes = raw.nodes[i + sizeAt]!;
    if (bytes === 0) continue;
    const type = types[raw.nodes[i + typeAt]!] ?? 'unknown';
    let kind = kindOf(type, raw.strings[raw.nodes[i + nameAt]!] ?? '', options.strings ?? false);
    if (options.shapes && type === 'object') {
      const names: string[] = [];
      for (let e = firstEdge; e < edge && names.length < 10; e += edgeWidth) {
        if (raw.edges[e + edgeTypeAt] !== propertyType) continue;
        const name = raw.strings[raw.edges[e + edgeNameAt]!] ?? '';
        if (name !== '__proto__') names.push(name);
      }
      kind += ` {${names.join(', ')}}`;
    }
    const total = totals.get(kind);
    if (total) {
      total.count++;
      total.bytes += bytes;
    } else totals.set(kind, { count: 1, bytes });
  }
  return totals;
}

/** `after` minus `before`, kind by kind. */
export function difference(
  before: ReadonlyMap<string, KindTotal>,
  after: ReadonlyMap<string, KindTotal>,
): Map<string, KindTotal> {
  const out = new Map<string, KindTotal>();
  for (const kind of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(kind) ?? { count: 0, bytes: 0 };
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    if (a.count !== b.count || a.bytes !== b.bytes)
      out.set(kind, { count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return out;
}

function render(totals: ReadonlyMap<string, KindTotal>, per: number, top: number): string {
  const rows = [...totals].sort(([, a], [, b]) => Math.abs(b.bytes) - Math.abs(a.bytes));
  const fmt = (n: number): string =>
    per === 1 ? String(n) : (Math.round((n / per) * 100) / 100).toFixed(2);
  const sum = rows.reduce((acc, [, t]) => acc + t.bytes, 0);
  const lines = [`${'bytes'.padStart(10)} ${'count'.padStart(10)}  kind`];
  for (const [kind, t] of rows.slice(0, top))
    lines.push(`${fmt(t.bytes).padStart(10)} ${fmt(t.count).padStart(10)}  ${kind}`);
  const rest = rows.slice(top).reduce((acc, [, t]) => acc + t.bytes, 0);
  if (rows.length > top)
    lines.push(`${fmt(rest).padStart(10)} ${''.padStart(10)}  (${rows.length - top} more kinds)`);
  lines.push(`${fmt(sum).padStart(10)} ${''.padStart(10)}  total${per === 1 ? '' : ` / ${per}`}`);
  return lines.join('\n');
}

function main(argv: readonly string[]): void {
  const files: string[] = [];
  let per = 1;
  let top = 40;
  const options = { strings: false, shapes: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--per') per = Number(argv[++i]);
    else if (arg === '--top') top = Number(argv[++i]);
    else if (arg === '--strings') options.strings = true;
    else if (arg === '--shapes') options.shapes = true;
    else files.push(arg);
  }
  if (files.length < 1 || files.length > 2 || !(per > 0) || !(top > 0)) {
    process.stderr.write(
      'usage: tsx test/bench/lib/heap-summary.ts [before.heapsnapshot] after.heapsnapshot [--per N] [--top N] [--strings] [--shapes]\n',
    );
    process.exit(2);
  }
  const totals =
    files.length === 1
      ? summarize(files[0]!, options)
      : difference(summarize(files[0]!, options), summarize(files[1]!, options));
  process.stdout.write(`${render(totals, per, top)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
