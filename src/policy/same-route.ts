// When a recompiled policy can take its predecessor's place in the serving index without a rebuild.
import type { CompiledPolicy } from '../core/ports.js';
import { permissive } from './fall-through.js';

/**
 * Whether two compiled policies are indexed, ordered and warned about (fall-through) alike: the same
 * id, hosts, paths, methods, path options, enforcement and identity header names, equally permissive.
 */
export function sameRoute(a: CompiledPolicy, b: CompiledPolicy): boolean {
  return (
    a.id === b.id &&
    a.enforcement === b.enforcement &&
    a.pathOptions === b.pathOptions &&
    a.otherMethods === b.otherMethods &&
    sameList(a.hosts, b.hosts) &&
    sameList(a.paths, b.paths) &&
    sameList(a.headerNames, b.headerNames) &&
    sameList(a.methods === undefined ? undefined : [...a.methods], b.methods === undefined ? undefined : [...b.methods]) &&
    permissive(a) === permissive(b)
  );
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
