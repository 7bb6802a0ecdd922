// What the user's transaction function gets as `tx`: the pooled node-postgres client in every
// way that Drizzle, Kysely or Knex use (query, events, its fields), for the life of one attempt
// only. The connection goes back to this thread's pool afterwards and serves other workflows'
// transactions, so nothing the function holds on to may reach it then: one workflow's mistake
// must not cost another workflow its transaction.
import type { PoolClient } from 'pg';
import { SkeinError } from '../common/errors.ts';

/** Calls that would take the connection out of skein's hands. */
const REFUSED = new Set<PropertyKey>(['release', 'end', 'connect']);
/** EventEmitter methods whose listeners must not outlive the attempt. */
const ADDS_LISTENER = new Set<PropertyKey>(['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']);

export interface Guarded {
  tx: PoolClient;
  /** The attempt is over: every later use of `tx` throws, its listeners are removed. */
  close(): void;
}

export function guard(client: PoolClient, name: string): Guarded {
  let closed = false;
  const listeners: [string | symbol, (...args: unknown[]) => void][] = [];
  const over = () => new SkeinError(`transaction '${name}': tx was used after its transaction ended`);
  const tx = new Proxy(client, {
    get(target, prop) {
      if (closed) throw over();
      if (REFUSED.has(prop)) {
        return () => {
          throw new SkeinError(`transaction '${name}': tx.${String(prop)}() is skein's to call (it begins, commits and releases)`);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      // a wrapper, not the bound method: a function kept from before the end checks again
      return (...args: unknown[]) => {
        if (closed) throw over();
        if (ADDS_LISTENER.has(prop)) listeners.push([args[0] as string | symbol, args[1] as (...a: unknown[]) => void]);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        // a query the function did not await may fail after it returned: unhandled, that
        // rejection would end the thread and every workflow on it
        if (prop === 'query' && result instanceof Promise) result.catch(() => {});
        return result === target ? tx : result;
      };
    },
    set() {
      throw new SkeinError(`transaction '${name}': tx's fields are not the function's to change`);
    },
  });
  return {
    tx,
    close() {
      closed = true;
      for (const [event, listener] of listeners) client.removeListener(event, listener);
    },
  };
}
