// The LISTEN connection of a process (pg-listen), for the waiters of runtime/waiters.ts. It
// keeps reconnecting for as long as it is open; notifications sent while it was down are lost,
// which is why `connected` fires on every (re)connect: the caller re-checks what it waits for.
import pgListen from 'pg-listen';

// pg-listen is CommonJS exporting `exports.default`: imported from ESM, Node hands us the
// exports object and the function sits under `default`.
const createSubscriber: typeof pgListen.default =
  typeof pgListen === 'function' ? pgListen : pgListen.default;

export interface ListenHandlers {
  /** a NOTIFY on the channel, with its payload as sent */
  notified(payload: string): void;
  /** the connection is (again) up: notifications may have been missed meanwhile */
  connected(): void;
  error(err: Error): void;
}

export interface Listener {
  close(): Promise<void>;
}

export async function listen(
  databaseUrl: string,
  channel: string,
  handlers: ListenHandlers,
  opts: { connectTimeoutMs: number },
): Promise<Listener> {
  const subscriber = createSubscriber(
    {
      connectionString: databaseUrl,
      application_name: 'skein-listen',
      // pg-listen awaits each reconnect attempt: one hung on a silent server would stall
      // LISTEN for good, where a timed-out one is retried
      connectionTimeoutMillis: opts.connectTimeoutMs,
    },
    {
      // pg-listen gives up reconnecting after retryTimeout (default 3 s) and then never
      // listens again; 0 means keep trying.
      retryTimeout: 0,
      retryInterval: (attempt: number) => Math.min(100 * 2 ** attempt, 2000),
      parse: (payload: string) => payload, // payloads are plain keys, not JSON
      paranoidChecking: 10_000,
    },
  );
  subscriber.notifications.on(channel, (payload: string) => handlers.notified(payload));
  subscriber.events.on('connected', () => handlers.connected());
  subscriber.events.on('error', (err: Error) => handlers.error(err));
  try {
    await subscriber.connect();
    await subscriber.listenTo(channel);
  } catch (err) {
    // pg-listen armed its reconnects before connect: without close() a failed first connect
    // retries forever and keeps the process alive
    await subscriber.close().catch(() => undefined);
    throw err;
  }
  return { close: () => subscriber.close() };
}
