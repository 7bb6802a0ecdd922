// Wake-up latency of messages and events through LISTEN/NOTIFY, one round trip at a time:
// skein.send -> ctx.recv returns, and ctx.setEvent -> skein.getEvent returns.
// Run: npx tsx bench/messaging-latency.ts [N]
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { pingPong, wallClock } from './workflows.ts';

const N = Number(process.argv[2] ?? 1000);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

console.log(`messaging-latency: ${N} round trips, 2 threads, default durability`);
await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({
    workflows: new URL('./workflows.ts', import.meta.url),
    databaseUrl: server.url,
    threads: 2,
  });
  // one extra round first, to warm the thread and the prepared statements
  const handle = await skein.start(pingPong, N + 1);
  const eventLatencies: number[] = [];
  for (let i = 0; i <= N; i++) {
    await skein.send(handle.id, wallClock(), 'ping');
    const setAt = await skein.getEvent<number>(handle.id, `ack${i}`, { timeoutMs: 60_000 });
    if (i > 0) eventLatencies.push(wallClock() - setAt!);
  }
  const recvLatencies = (await handle.result()).slice(1);
  const line = (name: string, xs: number[]) =>
    console.log(
      `  ${name}: median ${quantile(xs, 0.5).toFixed(2)} ms, p99 ${quantile(xs, 0.99).toFixed(2)} ms, ` +
        `max ${Math.max(...xs).toFixed(2)} ms`,
    );
  line('send -> recv', recvLatencies);
  line('setEvent -> getEvent', eventLatencies);
  await skein.shutdown();
});
