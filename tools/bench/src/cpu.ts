// CPU time per process, read from /proc (Linux): where an invocation's CPU goes.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

interface ProcStat {
  comm: string;
  ppid: number;
  /** utime + stime. */
  ticks: number;
  /** cutime + cstime: children that have exited and been waited for. */
  reaped: number;
}

const readStat = (pid: number): ProcStat | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // fields[0] is state (field 3); utime and stime are fields 14 and 15.
    return { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), reaped: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined;
  }
};

const allPids = (): number[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);

/** The processes to watch: named roots, their descendants (sandboxes), and servers by command name. */
export interface Watched {
  roots: Record<string, number>;
  servers: string[];
}

export type CpuSample = Map<string, number>;

/**
 * CPU ticks per label now: each root, and its descendants under `<label> children` — the live
 * ones plus those that exited (the root's reaped time), so a sandbox that retires between two
 * samples does not take its time out of the sum.
 */
export const sampleCpu = ({ roots, servers }: Watched): CpuSample => {
  const stats = new Map<number, ProcStat>();
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (s) stats.set(pid, s);
  }
  const labelOf = new Map<number, string>();
  for (const [label, pid] of Object.entries(roots)) labelOf.set(pid, label);
  const sample: CpuSample = new Map();
  const add = (label: string, ticks: number) => sample.set(label, (sample.get(label) ?? 0) + ticks);
  for (const [pid, s] of stats) {
    const own = labelOf.get(pid);
    if (own !== undefined) {
      add(own, s.ticks);
      add(`${own} children`, s.reaped);
      continue;
    }
    // Walk up to a watched root: a descendant counts as that root's children.
    let up = s.ppid;
    for (let depth = 0; depth < 8 && up > 1; depth += 1) {
      const root = labelOf.get(up);
      if (root !== undefined) {
        add(`${root} children`, s.ticks + s.reaped);
        break;
      }
      up = stats.get(up)?.ppid ?? 0;
    }
    if (servers.includes(s.comm)) add(s.comm, s.ticks);
  }
  return sample;
};

/** Milliseconds of CPU per operation for each label between two samples. */
export const cpuPerOperation = (before: CpuSample, after: CpuSample, operations: number): [string, number][] =>
  [...after].map(([label, ticks]) => [label, (ticks - (before.get(label) ?? 0)) / TICKS_PER_MS / operations] as [string, number]);
