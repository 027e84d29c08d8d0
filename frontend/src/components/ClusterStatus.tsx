// A replica's line about its cluster on the home view (nothing on a server on its own): how many
// workers run claude and how many runs are in progress, or a warning when the cluster's NATS server does
// not answer (runs cannot start then). Refreshed every 15 s while the page is visible, on a replica
// only.

import { useEffect, useState } from 'react';
import { clusterSummary, fetchCluster, type ClusterView } from '../cluster';

const REFRESH_MS = 15_000;

export function ClusterStatus() {
  const [view, setView] = useState<ClusterView>({ kind: 'single' });
  useEffect(() => {
    let cancelled = false;
    let timer = 0;
    const stop = () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', load);
    };
    function load() {
      if (document.visibilityState === 'hidden') return;
      fetchCluster()
        .then((v) => {
          if (cancelled) return;
          setView(v);
          // a server on its own stays one: nothing to refresh
          if (v.kind === 'single') stop();
        })
        .catch(() => {});
    }
    load();
    timer = window.setInterval(load, REFRESH_MS);
    document.addEventListener('visibilitychange', load);
    return () => {
      cancelled = true;
      stop();
    };
  }, []);
  if (view.kind === 'single') return null;
  if (view.kind === 'unreachable') {
    return (
      <p className="msg-error" data-testid="cluster-status" role="alert">
        {view.message}
      </p>
    );
  }
  const none = view.info.workers.length === 0;
  return (
    <p className={none ? 'msg-error' : 'muted'} data-testid="cluster-status" role={none ? 'alert' : undefined}>
      {none ? 'Cluster: no opcode-worker is running, so runs cannot start. Start one with opcode-worker --nats-url …' : `Cluster: ${clusterSummary(view.info)}`}
    </p>
  );
}
