import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  shortUrl,
  topSelfTime,
  type CpuProfile,
  type ProfileNode,
  type SelfTime,
} from './cpuprofile.ts';

const WIDTH = 1200;
const ROW = 16;
const TOP = 36;
/** Frames narrower than this share of the busy samples are left out, with their callees. */
const MIN_SHARE = 0.002;

/** A call path with its samples: the node's own and its callees'. */
interface Frame {
  readonly label: string;
  readonly where: string;
  readonly kind: FrameKind;
  self: number;
  total: number;
  readonly children: Map<string, Frame>;
}

interface Placed {
  readonly frame: Frame;
  readonly x: number;
  readonly level: number;
  readonly width: number;
}

type FrameKind = 'ours' | 'dependency' | 'node' | 'native' | 'vm';

const FILL: Record<FrameKind, string> = {
  ours: '#4f86e8',
  dependency: '#e8a23c',
  node: '#d8c94a',
  native: '#e0624f',
  vm: '#a0a0a0',
};

function kindOf(functionName: string, url: string): FrameKind {
  if (functionName.startsWith('(')) return 'vm';
  if (url === '') return 'native';
  if (url.startsWith('node:')) return 'node';
  if (url.includes('node_modules/')) return 'dependency';
  return 'ours';
}

function escape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/**
 * The profile as a tree of call paths, siblings with the same function merged (V8 keeps
 * one node per call site, and sites of one function in one caller say little). The idle
 * samples are left out, so shares are of the busy time, as in `topSelfTime`.
 */
function callTree(profile: CpuProfile): Frame {
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const root: Frame = {
    label: 'all',
    where: '',
    kind: 'vm',
    self: 0,
    total: 0,
    children: new Map(),
  };
  const visit = (node: ProfileNode, into: Frame): number => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return 0;
    const label = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${label}@${where}`;
    let frame = into.children.get(key);
    if (!frame) {
      frame = {
        label,
        where,
        kind: kindOf(functionName, url),
        self: 0,
        total: 0,
        children: new Map(),
      };
      into.children.set(key, frame);
    }
    let total = node.hitCount ?? 0;
    frame.self += total;
    for (const id of node.children ?? []) {
      const child = byId.get(id);
      if (child) total += visit(child, frame);
    }
    frame.total += total;
    return total;
  };
  const top = profile.nodes[0];
  if (top)
    for (const id of top.children ?? []) {
      const child = byId.get(id);
      if (child) root.total += visit(child, root);
    }
  return root;
}

/**
 * A flame graph of a V8 `.cpuprofile` as a self-contained SVG: callers below their
 * callees, each frame as wide as its share of the busy samples, hover text with the
 * figures. Colours tell our code, dependencies, Node's own JavaScript, native code
 * (uWebSockets.js, V8 builtins) and V8's pseudo-frames (GC, program) apart.
 */
export function flameGraphSvg(profile: CpuProfile, title: string): string {
  const root = callTree(profile);
  const total = Math.max(root.total, 1);
  const msPerSample =
    profile.samples && profile.samples.length > 0
      ? (profile.endTime - profile.startTime) / 1000 / profile.samples.length
      : 0;
  const placed: Placed[] = [];
  const place = (frame: Frame, x: number, level: number): void => {
    placed.push({ frame, x, level, width: (frame.total / total) * WIDTH });
    let at = x;
    for (const child of [...frame.children.values()].sort((a, b) => b.total - a.total)) {
      if (child.total / total >= MIN_SHARE) place(child, at, level + 1);
      at += (child.total / total) * WIDTH;
    }
  };
  place(root, 0, 0);

  const depth = Math.max(...placed.map((p) => p.level));
  const bottom = TOP + (depth + 1) * ROW;
  const height = bottom + 24;
  const body = placed.map((p) => rect(p, bottom - (p.level + 1) * ROW, total, msPerSample));
  const legend = (Object.keys(FILL) as FrameKind[])
    .map(
      (kind, i) =>
        `<rect x="${8 + i * 120}" y="${height - 16}" width="10" height="10" fill="${FILL[kind]}"/>` +
        `<text x="${22 + i * 120}" y="${height - 7}">${kind}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="18" font-family="sans-serif" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="8" y="31" font-family="sans-serif">${root.total} busy samples of ${msPerSample.toFixed(2)} ms; frames under ${MIN_SHARE * 100} % left out; hover for figures</text>`,
    ...body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}

function rect({ frame, x, width }: Placed, y: number, total: number, msPerSample: number): string {
  const share = (100 * frame.total) / total;
  const selfShare = (100 * frame.self) / total;
  const hover = `${frame.label} ${frame.where}\n${share.toFixed(1)} % (${Math.round(frame.total * msPerSample)} ms), self ${selfShare.toFixed(1)} %`;
  const chars = Math.floor((width - 4) / 6.6);
  const label = frame.label.length > chars ? `${frame.label.slice(0, chars - 1)}…` : frame.label;
  const text =
    chars >= 3 ? `<text x="${(x + 2).toFixed(1)}" y="${y + 12}">${escape(label)}</text>` : '';
  return (
    `<g><title>${escape(hover)}</title>` +
    `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(width - 0.5, 0.5).toFixed(1)}" height="${ROW - 1}" fill="${FILL[frame.kind]}"/>` +
    `${text}</g>`
  );
}

/** Where a profile taken during a scenario went, and its top functions. */
export interface ProfileRecord {
  readonly profile: string;
  readonly flameGraph: string;
  readonly topSelfTime: readonly SelfTime[];
}

/**
 * Writes a `.cpuprofile` from the inspector as `<name>.cpuprofile` and its flame graph as
 * `flame-<name>.svg` into `dir`; the runner copies the flame graphs next to the charts.
 */
export function recordProfile(
  dir: string,
  name: string,
  title: string,
  json: string,
): ProfileRecord {
  const profile = join(dir, `${name}.cpuprofile`);
  const flameGraph = join(dir, `flame-${name}.svg`);
  writeFileSync(profile, json);
  writeFileSync(flameGraph, flameGraphSvg(JSON.parse(json) as CpuProfile, title));
  return { profile, flameGraph, topSelfTime: topSelfTime(profile) };
}
