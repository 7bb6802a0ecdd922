// Process hooks that stop the embedded Postgres servers this process owns when it ends without
// stopping them. The server runs detached (a crash must not take it down mid-write, and the next
// launch adopts it), so nothing else would stop it: Ctrl-C reaches only our process group.
// - SIGINT, SIGTERM, SIGHUP with no listener of the application's: stop the servers, then let
//   the signal end the process as it would have. With a listener of its own, the application
//   decides (its shutdown stops the server, and its process.exit runs the exit hook).
// - exit (process.exit, an uncaught exception, an unhandled rejection): only synchronous work is
//   possible, so the servers get SIGINT and shut down by themselves.
// One listener per event for all servers, removed once none is left: a process that starts and
// stops many servers (tests) adds nothing that lasts.

export interface Guarded {
  /** synchronous: ask the server to shut down (fast shutdown) */
  interrupt(): void;
  stop(): Promise<void>;
}

const guarded = new Set<Guarded>();
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
// ours in any copy of this module (source and dist loaded in one process): not the application's
const mark = Symbol.for('skein.embeddedGuard');

const onExit = Object.assign(() => {
  for (const g of guarded) {
    try {
      g.interrupt();
    } catch {
      // the process is ending: nothing to report to, and the next server must still be asked
    }
  }
}, { [mark]: true });

const onSignal = Object.assign((signal: NodeJS.Signals) => {
  if (process.listeners(signal).some((l) => !(mark in l))) return;
  // Ask the servers to stop (they shut down by themselves) and step aside at once: a handler
  // that waited here would keep the process alive, and one that stays registered would make
  // other guards that end the process only when alone (signal-exit) wait for it forever.
  const servers = [...guarded];
  onExit();
  for (const g of servers) unguard(g);
  void Promise.allSettled(servers.map((g) => g.stop())).then(() => {
    // the default action, unless someone registered a handler meanwhile
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}, { [mark]: true });

export function guard(g: Guarded): void {
  if (guarded.size === 0) {
    process.on('exit', onExit);
    for (const s of signals) process.on(s, onSignal);
  }
  guarded.add(g);
}

export function unguard(g: Guarded): void {
  if (!guarded.delete(g) || guarded.size > 0) return;
  process.removeListener('exit', onExit);
  for (const s of signals) process.removeListener(s, onSignal);
}
