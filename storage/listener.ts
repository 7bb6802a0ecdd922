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
  // pg-listen's close() ends the client it holds, but a reconnect loop under way (the server
  // was down) goes on: it connected after close(), listened again and held the process open
  // for good, retrying a server stopped since every 2 s (a Skein shut down during an outage;
  // test/messaging/listener.test.ts). So, once closed: the next attempt is refused as it
  // begins (a throw in the 'reconnect' event ends the loop), and a connection that was already
  // on its way is closed as it arrives, whether its LISTEN worked or failed.
  let closed = false;
  const close = () => {
    closed = true;
    return subscriber.close();
  };
  subscriber.events.on('reconnect', () => {
    if (closed) throw new Error('the listener is closed');
  });
  subscriber.notifications.on(channel, (payload: string) => handlers.notified(payload));
  subscriber.events.on('connected', () => {
    if (closed) void subscriber.close().catch(() => undefined);
    else handlers.connected();
  });
  subscriber.events.on('error', (err: Error) => {
    if (closed) void subscriber.close().catch(() => undefined);
    else handlers.error(err);
  });
  try {
    await subscriber.connect();
    await subscriber.listenTo(channel);
  } catch (err) {
    // pg-listen armed its reconnects before connect: without close() a failed first connect
    // retries forever and keeps the process alive
    await close().catch(() => undefined);
    throw err;
  }
  return { close };
}
