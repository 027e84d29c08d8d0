import { afterEach, describe, expect, it, vi } from 'vitest';
import { clusterSummary, fetchCluster, type ClusterInfo } from './cluster';

const info = (over: Partial<ClusterInfo['stream']> = {}): ClusterInfo => ({
  workers: [
    { id: 'w-1', runs: 2 },
    { id: 'w-2', runs: 1 },
  ],
  runs: 3,
  stream: { name: 'OPCODE_EVENTS', messages: 10, bytes: 100, consumers: 0, configured_replicas: 1, leader: null, replicas: [], ...over },
});

function answer(status: number, body: unknown) {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status })));
}

afterEach(() => vi.unstubAllGlobals());

describe('cluster status', () => {
  it('summarises workers, runs and, with copies, where the stream is kept', () => {
    expect(clusterSummary(info())).toBe('2 workers · 3 runs in progress');
    const replicated = info({
      configured_replicas: 3,
      leader: 'n2',
      replicas: [
        { name: 'n2', current: true, lag: 0 },
        { name: 'n1', current: true, lag: 0 },
        { name: 'n3', current: false, lag: 40 },
      ],
    });
    expect(clusterSummary(replicated)).toBe('2 workers · 3 runs in progress · stream on 2 of 3 NATS servers, led by n2');
    expect(clusterSummary({ ...info({ configured_replicas: 3 }), workers: [{ id: 'w', runs: 1 }], runs: 1 })).toBe(
      '1 worker · 1 run in progress · stream on 0 of 3 NATS servers, electing a leader',
    );
  });

  it('reads a server on its own, a replica, and a bus that does not answer', async () => {
    answer(200, { success: true, data: { mode: 'single' } });
    expect(await fetchCluster()).toEqual({ kind: 'single' });
    answer(200, { success: true, data: { mode: 'replica', connected: true, cluster: info() } });
    expect(await fetchCluster()).toEqual({ kind: 'replica', info: info() });
    answer(503, { success: false, error: "the cluster's NATS server does not answer (…)" });
    expect(await fetchCluster()).toEqual({ kind: 'unreachable', message: "the cluster's NATS server does not answer (…)" });
    answer(401, { success: false, error: 'no token' });
    await expect(fetchCluster()).rejects.toThrow('no token');
  });
});
