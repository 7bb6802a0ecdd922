// Postgres's own ceiling on the benchmark server, pgbench-style: single-row INSERTs, each its
// own committed transaction, from 1 connection and from 16, for a fixed time.
import pg from 'pg';

export interface Ceiling {
  oneConnection: number;
  sixteenConnections: number;
}

async function commitsPerSecond(url: string, connections: number, ms: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  await clients[0]!.query('CREATE TABLE IF NOT EXISTS ceiling (id bigserial PRIMARY KEY, v int NOT NULL)');
  let commits = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) {
        await c.query({ name: 'ceiling', text: 'INSERT INTO ceiling (v) VALUES ($1)', values: [commits] });
        commits++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return commits / seconds;
}

export async function measureCeiling(url: string, ms: number): Promise<Ceiling> {
  return {
    oneConnection: await commitsPerSecond(url, 1, ms),
    sixteenConnections: await commitsPerSecond(url, 16, ms),
  };
}
