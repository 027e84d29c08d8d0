// The cluster this server belongs to, if any (`GET /api/cluster`): a replica shows its workers and the
// state of its bus on the home view. Read with a fetch of its own: a 503 here means the cluster's NATS
// server is down, not this server, so it must not switch the page to "offline".

export interface StreamPeer {
  name: string;
  current: boolean;
  lag: number;
}

export interface ClusterInfo {
  workers: { id: string; runs: number }[];
  runs: number;
  stream: { name: string; messages: number; bytes: number; consumers: number; configured_replicas: number; leader: string | null; replicas: StreamPeer[] };
}

/** What the home view shows: nothing on a server on its own. */
export type ClusterView = { kind: 'single' } | { kind: 'replica'; info: ClusterInfo } | { kind: 'unreachable'; message: string };

export async function fetchCluster(): Promise<ClusterView> {
  const res = await fetch('/api/cluster', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  const env = (await res.json().catch(() => null)) as { success?: boolean; data?: { mode?: string; cluster?: ClusterInfo }; error?: string } | null;
  if (res.ok && env?.success && env.data?.mode === 'replica' && env.data.cluster) return { kind: 'replica', info: env.data.cluster };
  if (res.ok && env?.success) return { kind: 'single' };
  if (res.status === 503) return { kind: 'unreachable', message: env?.error ?? 'the cluster does not answer' };
  throw new Error(env?.error ?? `GET /api/cluster: HTTP ${res.status}`);
}

/** One line about the cluster: its workers, their runs, and where the stream is kept. */
export function clusterSummary(info: ClusterInfo): string {
  const workers = info.workers.length;
  const parts = [`${workers} worker${workers === 1 ? '' : 's'}`, `${info.runs} run${info.runs === 1 ? '' : 's'} in progress`];
  const copies = info.stream.configured_replicas;
  if (copies > 1) {
    const current = info.stream.replicas.filter((p) => p.current).length;
    parts.push(`stream on ${current} of ${copies} NATS servers${info.stream.leader ? `, led by ${info.stream.leader}` : ', electing a leader'}`);
  }
  return parts.join(' · ');
}
