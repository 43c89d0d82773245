// Where a field path (`spec.authentication.methods[0].apiKey.selector`) sits in a parsed YAML document,
// as line and column, so that every problem `gatehouse validate` reports points into the file.
import { type Document, isMap, isNode, isPair, isScalar, isSeq, type LineCounter } from 'yaml';

export interface Position {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export interface FieldPosition extends Position {
  /** False when the field is not there and this is where its nearest present parent is. */
  readonly exact: boolean;
}

/** `spec.a[0].b` -> ['spec', 'a', 0, 'b']. */
export function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] === undefined ? (m[1] ?? '') : Number(m[2]));
  return out;
}

/**
 * The position of the field at `path`: its key in a mapping, its item in a sequence. A field that is
 * not there (a required one missing) is reported where its nearest present parent is. Mapping keys
 * may hold dots (`tls.crt` in a Secret's data): a segment not found is tried joined with the next.
 */
export function fieldPosition(doc: Document, lines: LineCounter, path: string): FieldPosition {
  const segments = pathSegments(path);
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? doc.range?.[0] ?? 0;
  for (let i = 0; i < segments.length; ) {
    const next = step(node, segments, i);
    if (next === undefined) return { ...offsetPosition(lines, offset), exact: false };
    node = next.node;
    offset = next.offset ?? offset;
    i += next.consumed;
  }
  return { ...offsetPosition(lines, offset), exact: true };
}

/** One step down from `node` along `segments[i]` (and the segments after, for a dotted key). */
function step(node: unknown, segments: readonly (string | number)[], i: number): { node: unknown; offset: number | undefined; consumed: number } | undefined {
  const segment = segments[i];
  if (typeof segment === 'number') {
    const item: unknown = isSeq(node) ? node.items[segment] : undefined;
    return item === undefined ? undefined : { node: item, offset: rangeStart(item), consumed: 1 };
  }
  if (!isMap(node)) return undefined;
  // The longest run of segments that names one key wins (`data.tls.crt` is the key `tls.crt`).
  for (let j = segments.length; j > i; j--) {
    const run = segments.slice(i, j);
    if (run.some((s) => typeof s === 'number')) continue;
    const key = run.join('.');
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
    if (pair !== undefined) return { node: pair.value, offset: rangeStart(pair.key), consumed: j - i };
  }
  return undefined;
}

/** The position of a character offset. */
export function offsetPosition(lines: LineCounter, offset: number): Position {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? (node.range?.[0] ?? undefined) : undefined;
}
