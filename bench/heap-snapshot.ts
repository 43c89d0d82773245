// Reads a V8 heap snapshot (.heapsnapshot) without holding its text: the node and edge arrays are
// parsed as they stream by (a 200 MB heap writes more JSON than one string may hold), then the
// dominator tree gives each object its retained size, as DevTools' "Retained Size" column does.
import { closeSync, openSync, readSync } from 'node:fs';

export interface HeapGraph {
  readonly nodeTypes: readonly string[];
  readonly strings: readonly string[];
  /** Per node: type, name (string index), self size, first edge, edge count. */
  readonly type: Uint8Array;
  readonly name: Uint32Array;
  readonly selfSize: Float64Array;
  readonly firstEdge: Uint32Array;
  readonly edgeCount: Uint32Array;
  /** Per edge: type, name (a string index for properties, else an element index), target node. */
  readonly edgeType: Uint8Array;
  readonly edgeName: Uint32Array;
  readonly edgeTo: Uint32Array;
  readonly weakEdge: number;
  readonly propertyEdge: number;
}

class Numbers {
  data = new Float64Array(1 << 20);
  length = 0;
  push(n: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = n;
  }
}

/** Streams the file: `head` is the text before `"nodes":[`, the arrays are parsed, `strings` is JSON. */
export function readHeapSnapshot(file: string): HeapGraph {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 22);
  let head = '';
  const nodes = new Numbers();
  const edges = new Numbers();
  const tail: Buffer[] = [];
  let phase: 'head' | 'nodes' | 'between' | 'edges' | 'rest' = 'head';
  let current = -1;
  let pending = '';
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      let i = 0;
      while (i < n) {
        if (phase === 'head' || phase === 'between') {
          const text = pending + chunk.toString('latin1', i, n);
          const marker = phase === 'head' ? '"nodes":[' : '"edges":[';
          const at = text.indexOf(marker);
          if (at === -1) {
            pending = text.slice(-16);
            if (phase === 'head') head += text.slice(0, -16);
            i = n;
            continue;
          }
          if (phase === 'head') head += text.slice(0, at);
          const consumed = at + marker.length - pending.length;
          pending = '';
          i += consumed;
          phase = phase === 'head' ? 'nodes' : 'edges';
          continue;
        }
        if (phase === 'rest') {
          tail.push(Buffer.from(chunk.subarray(i, n)));
          i = n;
          continue;
        }
        const target = phase === 'nodes' ? nodes : edges;
        for (; i < n; i++) {
          const c = chunk[i] ?? 0;
          if (c >= 48 && c <= 57) current = (current < 0 ? 0 : current * 10) + (c - 48);
          else {
            if (current >= 0) target.push(current);
            current = -1;
            if (c === 93) {
              i++;
              phase = phase === 'nodes' ? 'between' : 'rest';
              break;
            }
          }
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  const meta = (JSON.parse(head.replace(/,\s*$/, '') + '}') as { snapshot: { meta: SnapshotMeta } }).snapshot.meta;
  const rest = Buffer.concat(tail).toString('utf8');
  const s = rest.indexOf('"strings":[');
  const strings = JSON.parse(rest.slice(s + '"strings":'.length, rest.lastIndexOf(']') + 1)) as string[];
  return toGraph(meta, nodes, edges, strings);
}

interface SnapshotMeta {
  readonly node_fields: readonly string[];
  readonly node_types: readonly [readonly string[], ...unknown[]];
  readonly edge_fields: readonly string[];
  readonly edge_types: readonly [readonly string[], ...unknown[]];
}

function toGraph(meta: SnapshotMeta, nodes: Numbers, edges: Numbers, strings: string[]): HeapGraph {
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const count = nodes.length / nf;
  const edgeTotal = edges.length / ef;
  const f = (name: string): number => meta.node_fields.indexOf(name);
  const [ti, ni, si, eci] = [f('type'), f('name'), f('self_size'), f('edge_count')];
  const [eti, eni, eto] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('name_or_index'), meta.edge_fields.indexOf('to_node')];
  const g = {
    nodeTypes: meta.node_types[0],
    strings,
    type: new Uint8Array(count),
    name: new Uint32Array(count),
    selfSize: new Float64Array(count),
    firstEdge: new Uint32Array(count),
    edgeCount: new Uint32Array(count),
    edgeType: new Uint8Array(edgeTotal),
    edgeName: new Uint32Array(edgeTotal),
    edgeTo: new Uint32Array(edgeTotal),
    weakEdge: meta.edge_types[0].indexOf('weak'),
    propertyEdge: meta.edge_types[0].indexOf('property'),
  };
  let e = 0;
  for (let k = 0; k < count; k++) {
    const b = k * nf;
    g.type[k] = nodes.data[b + ti] ?? 0;
    g.name[k] = nodes.data[b + ni] ?? 0;
    g.selfSize[k] = nodes.data[b + si] ?? 0;
    g.firstEdge[k] = e;
    g.edgeCount[k] = nodes.data[b + eci] ?? 0;
    e += g.edgeCount[k] ?? 0;
  }
  for (let k = 0; k < edgeTotal; k++) {
    g.edgeType[k] = edges.data[k * ef + eti] ?? 0;
    g.edgeName[k] = edges.data[k * ef + eni] ?? 0;
    g.edgeTo[k] = (edges.data[k * ef + eto] ?? 0) / nf;
  }
  return g;
}

/** Immediate dominators (Cooper, Harvey, Kennedy) over strong edges from node 0, and retained sizes. */
export function retainedSizes(g: HeapGraph): { idom: Int32Array; retained: Float64Array } {
  const n = g.type.length;
  const order = new Int32Array(n).fill(-1); // postorder number
  const byOrder = new Int32Array(n);
  const stack = new Int32Array(n);
  const cursor = new Uint32Array(n);
  let top = 0;
  let next = 0;
  stack[top++] = 0;
  order[0] = -2;
  cursor[0] = g.firstEdge[0] ?? 0;
  while (top > 0) {
    const v = stack[top - 1] ?? 0;
    const end = (g.firstEdge[v] ?? 0) + (g.edgeCount[v] ?? 0);
    let pushed = false;
    while ((cursor[v] ?? 0) < end) {
      const e = cursor[v] ?? 0;
      cursor[v] = e + 1;
      if (g.edgeType[e] === g.weakEdge) continue;
      const w = g.edgeTo[e] ?? 0;
      if (order[w] !== -1) continue;
      order[w] = -2;
      cursor[w] = g.firstEdge[w] ?? 0;
      stack[top++] = w;
      pushed = true;
      break;
    }
    if (!pushed) {
      top--;
      order[v] = next;
      byOrder[next++] = v;
    }
  }
  // Predecessors, in CSR form, among reachable nodes.
  const predCount = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if ((order[v] ?? -1) < 0) continue;
    const end = (g.firstEdge[v] ?? 0) + (g.edgeCount[v] ?? 0);
    for (let e = g.firstEdge[v] ?? 0; e < end; e++) {
      if (g.edgeType[e] === g.weakEdge) continue;
      const w = (g.edgeTo[e] ?? 0) + 1;
      predCount[w] = (predCount[w] ?? 0) + 1;
    }
  }
  for (let v = 0; v < n; v++) predCount[v + 1] = (predCount[v + 1] ?? 0) + (predCount[v] ?? 0);
  const preds = new Uint32Array(predCount[n] ?? 0);
  const fill = predCount.slice(0, n);
  for (let v = 0; v < n; v++) {
    if ((order[v] ?? -1) < 0) continue;
    const end = (g.firstEdge[v] ?? 0) + (g.edgeCount[v] ?? 0);
    for (let e = g.firstEdge[v] ?? 0; e < end; e++) {
      if (g.edgeType[e] === g.weakEdge) continue;
      const w = g.edgeTo[e] ?? 0;
      const at = fill[w] ?? 0;
      fill[w] = at + 1;
      preds[at] = v;
    }
  }
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while ((order[a] ?? 0) < (order[b] ?? 0)) a = idom[a] ?? 0;
      while ((order[b] ?? 0) < (order[a] ?? 0)) b = idom[b] ?? 0;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = next - 1; k >= 0; k--) {
      const v = byOrder[k] ?? 0;
      if (v === 0) continue;
      let d = -1;
      for (let p = predCount[v] ?? 0; p < (predCount[v + 1] ?? 0); p++) {
        const u = preds[p] ?? 0;
        if (idom[u] === -1) continue;
        d = d === -1 ? u : intersect(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(n);
  for (let k = 0; k < next; k++) {
    const v = byOrder[k] ?? 0;
    retained[v] = (retained[v] ?? 0) + (g.selfSize[v] ?? 0);
    if (v !== 0) retained[idom[v] ?? 0] = (retained[idom[v] ?? 0] ?? 0) + (retained[v] ?? 0);
  }
  return { idom, retained };
}

/** `Map`, `(string)`, `(compiled code)`: what a node is, for grouping. */
export function labelOf(g: HeapGraph, v: number): string {
  const type = g.nodeTypes[g.type[v] ?? 0] ?? '?';
  const name = g.strings[g.name[v] ?? 0] ?? '';
  switch (type) {
    case 'object':
    case 'closure':
    case 'native':
      return type === 'closure' ? `closure ${name || '(anonymous)'}` : name;
    case 'array':
      return `(array) ${name}`;
    default:
      return `(${type})`;
  }
}

/** An object's property names, sorted: objects of one shape, whatever their constructor. */
export function propertiesOf(g: HeapGraph, v: number): string {
  const names: string[] = [];
  const end = (g.firstEdge[v] ?? 0) + (g.edgeCount[v] ?? 0);
  for (let e = g.firstEdge[v] ?? 0; e < end; e++) if (g.edgeType[e] === g.propertyEdge) names.push(g.strings[g.edgeName[e] ?? 0] ?? '');
  return `{${names.sort().join(',')}}`;
}
