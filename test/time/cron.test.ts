// common/cron.ts: which instants a cron expression names. DST is computed, never waited for:
// Europe/Paris goes from 02:00 CET to 03:00 CEST on 2026-03-29 (01:00Z) and from 03:00 CEST back
// to 02:00 CET on 2026-10-25 (01:00Z).
import test from 'ava';
import { parseCron, scheduleTickId, tickId } from '../../common/cron.ts';
import { ConfigError } from '../../common/errors.ts';

const AT = "workflow 'report': options.schedule";
const cron = (expression: string, timezone?: string) => parseCron(AT, expression, timezone);
const at = (iso: string) => new Date(iso);
const isos = (dates: Date[]) => dates.map((d) => d.toISOString());
const HOUR = 3_600_000;

test('a 5-field expression is minute first, at second 0; next() is strictly after', (t) => {
  const c = cron('30 9 * * *');
  t.is(c.expression, '30 9 * * *');
  t.is(c.timezone, 'UTC');
  t.is(c.next(at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-01T09:30:00.000Z');
  t.is(c.next(at('2026-01-01T09:29:59.999Z')).toISOString(), '2026-01-01T09:30:00.000Z');
  t.is(c.next(at('2026-01-01T09:30:00Z')).toISOString(), '2026-01-02T09:30:00.000Z');
});

test('a 6-field expression is second first', (t) => {
  t.is(cron('15 30 9 * * *').next(at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-01T09:30:15.000Z');
  t.is(cron('*/20 * * * * *').next(at('2026-01-01T00:00:20Z')).toISOString(), '2026-01-01T00:00:40.000Z');
});

test('a per-second schedule gives consecutive whole seconds', (t) => {
  const c = cron('* * * * * *');
  t.is(c.next(at('2026-01-01T10:00:00.250Z')).toISOString(), '2026-01-01T10:00:01.000Z');
  t.deepEqual(isos(c.ticks(at('2026-01-01T10:00:00.250Z'), at('2026-01-01T10:00:04.900Z'), 100)), [
    '2026-01-01T10:00:01.000Z',
    '2026-01-01T10:00:02.000Z',
    '2026-01-01T10:00:03.000Z',
    '2026-01-01T10:00:04.000Z',
  ]);
});

test('ticks() includes both ends, and nothing outside them', (t) => {
  const c = cron('*/15 * * * *');
  t.deepEqual(isos(c.ticks(at('2026-01-01T10:00:00Z'), at('2026-01-01T10:45:00Z'), 100)), [
    '2026-01-01T10:00:00.000Z',
    '2026-01-01T10:15:00.000Z',
    '2026-01-01T10:30:00.000Z',
    '2026-01-01T10:45:00.000Z',
  ]);
  t.deepEqual(isos(c.ticks(at('2026-01-01T10:00:00.001Z'), at('2026-01-01T10:44:59.999Z'), 100)), [
    '2026-01-01T10:15:00.000Z',
    '2026-01-01T10:30:00.000Z',
  ]);
  t.deepEqual(isos(c.ticks(at('2026-01-01T10:15:00Z'), at('2026-01-01T10:15:00Z'), 100)), ['2026-01-01T10:15:00.000Z']);
  t.deepEqual(c.ticks(at('2026-01-01T10:16:00Z'), at('2026-01-01T10:15:00Z'), 100), []);
});

test('ticks() refuses a range with more than `limit` ticks, naming it, without walking it', (t) => {
  const c = cron('* * * * * *');
  t.is(c.ticks(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:09Z'), 10).length, 10);
  t.throws(() => c.ticks(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:10Z'), 10), {
    instanceOf: ConfigError,
    message: 'schedule "* * * * * *" (UTC) has more than 10 ticks from 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:10.000Z',
  });
  // a year of seconds is 31.5 million ticks: refused after 1,001 of them
  const started = performance.now();
  t.throws(() => c.ticks(at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'), 1000), {
    instanceOf: ConfigError,
    message: /more than 1000 ticks from 2026-01-01T00:00:00.000Z to 2027-01-01T00:00:00.000Z/,
  });
  t.true(performance.now() - started < 5000);
  t.throws(() => c.ticks(at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'), -1), { instanceOf: ConfigError, message: /limit/ });
  t.throws(() => c.ticks(at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'), Number.NaN), { instanceOf: ConfigError, message: /limit/ });
});

test('a time zone moves the instant: 09:00 in Asia/Kolkata (+05:30) is 03:30Z', (t) => {
  const c = cron('0 9 * * *', 'Asia/Kolkata');
  t.is(c.timezone, 'Asia/Kolkata');
  t.is(c.next(at('2026-06-01T00:00:00Z')).toISOString(), '2026-06-01T03:30:00.000Z');
  t.is(c.next(at('2026-06-01T03:30:00Z')).toISOString(), '2026-06-02T03:30:00.000Z');
  // local midnight is the previous UTC day
  t.is(cron('0 0 * * *', 'Asia/Kolkata').next(at('2026-06-01T00:00:00Z')).toISOString(), '2026-06-01T18:30:00.000Z');
});

test('spring-forward: 02:30 does not exist on 2026-03-29 in Paris, so it fires once, at the jump (03:00 CEST)', (t) => {
  const c = cron('0 30 2 * * *', 'Europe/Paris');
  t.deepEqual(isos(c.ticks(at('2026-03-27T00:00:00Z'), at('2026-03-31T00:00:00Z'), 100)), [
    '2026-03-27T01:30:00.000Z', // 02:30 CET
    '2026-03-28T01:30:00.000Z', // 02:30 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first instant after the skipped hour
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
  ]);
  t.is(c.next(at('2026-03-29T00:59:59Z')).toISOString(), '2026-03-29T01:00:00.000Z');
  // from 03:10 CEST the day's tick is past: cron-parser's own walk, begun here, would say the same
  // but begun the night before it fires at 03:30 CEST
  t.is(c.next(at('2026-03-29T01:10:00Z')).toISOString(), '2026-03-30T00:30:00.000Z');
  // every time the jump swallowed fires there, once
  const twice = cron('0 15,45 2 * * *', 'Europe/Paris');
  t.deepEqual(isos(twice.ticks(at('2026-03-28T22:00:00Z'), at('2026-03-29T22:00:00Z'), 100)), ['2026-03-29T01:00:00.000Z']);
});

test('fall-back: 02:30 happens twice on 2026-10-25 in Paris and fires once, the first time', (t) => {
  const c = cron('0 30 2 * * *', 'Europe/Paris');
  t.deepEqual(isos(c.ticks(at('2026-10-24T00:00:00Z'), at('2026-10-27T00:00:00Z'), 100)), [
    '2026-10-24T00:30:00.000Z', // 02:30 CEST
    '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first; not 01:30Z, 02:30 CET
    '2026-10-26T01:30:00.000Z', // 02:30 CET
  ]);
  t.is(c.next(at('2026-10-25T00:30:00Z')).toISOString(), '2026-10-26T01:30:00.000Z');
  // asked from inside the repeated hour (02:00 CET), the repeated 02:30 is still not a tick
  t.is(c.next(at('2026-10-25T01:00:00Z')).toISOString(), '2026-10-26T01:30:00.000Z');
  t.deepEqual(isos(cron('0 */15 2 * * *', 'Europe/Paris').ticks(at('2026-10-25T00:00:00Z'), at('2026-10-25T02:00:00Z'), 100)), [
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T00:15:00.000Z',
    '2026-10-25T00:30:00.000Z',
    '2026-10-25T00:45:00.000Z',
  ]);
});

test('hourly ticks are absolute hours: 23 on the spring-forward day, 25 on the fall-back day', (t) => {
  const c = cron('0 0 * * * *', 'Europe/Paris');
  // local midnight to the next local midnight, end excluded
  const spring = c.ticks(at('2026-03-28T23:00:00Z'), at('2026-03-29T21:59:59Z'), 100);
  const fall = c.ticks(at('2026-10-24T22:00:00Z'), at('2026-10-25T22:59:59Z'), 100);
  t.is(spring.length, 23);
  t.is(fall.length, 25);
  for (const day of [spring, fall]) {
    t.true(day.every((tick, i) => i === 0 || tick.getTime() - day[i - 1]!.getTime() === HOUR));
  }
  // 02:00 happens twice, and fires twice
  t.deepEqual(isos(c.ticks(at('2026-10-24T23:30:00Z'), at('2026-10-25T01:30:00Z'), 100)), [
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T01:00:00.000Z',
  ]);
});

test('a schedule of every hour follows the clock: nothing in a skipped hour, all of a repeated one', (t) => {
  // 02:30 never shows on the clock on 2026-03-29: the next :30 is 03:30 CEST, not moved to 03:00
  const halfPast = cron('0 30 * * * *', 'Europe/Paris');
  t.deepEqual(isos(halfPast.ticks(at('2026-03-29T00:00:00Z'), at('2026-03-29T02:00:00Z'), 100)), [
    '2026-03-29T00:30:00.000Z',
    '2026-03-29T01:30:00.000Z',
  ]);
  // every 20 minutes through the repeated hour: 02:00-02:40 CEST, then 02:00-02:40 CET again
  const ticks = cron('0 */20 * * * *', 'Europe/Paris').ticks(at('2026-10-24T23:50:00Z'), at('2026-10-25T01:50:00Z'), 100);
  t.is(ticks.length, 6);
  t.true(ticks.every((tick, i) => i === 0 || tick.getTime() - ticks[i - 1]!.getTime() === 20 * 60_000));
});

test('next(after) depends on `after` alone, from any instant around both DST changes', (t) => {
  for (const expression of ['0 30 2 * * *', '0 0 * * * *', '0 */20 1-3 * * *', '*/7 * 2 * * *']) {
    for (const day of ['2026-03-28T12:00:00Z', '2026-10-24T12:00:00Z']) {
      const c = cron(expression, 'Europe/Paris');
      const start = Date.parse(day);
      const all = c.ticks(new Date(start), new Date(start + 3 * 24 * HOUR), 100_000).map((tick) => tick.getTime());
      t.true(all.every((tick, i) => i === 0 || tick > all[i - 1]!), `${expression} ${day}: ascending`);
      // an odd step, so `after` lands on and between ticks, in both passes of the repeated hour
      for (let after = start; after < start + 36 * HOUR; after += 7 * 60_000 + 13_000) {
        const expected = all.find((tick) => tick > after)!;
        t.is(c.next(new Date(after)).getTime(), expected, `${expression} after ${new Date(after).toISOString()}`);
      }
    }
  }
});

test('L, # and names work as cron-parser reads them', (t) => {
  t.is(cron('0 0 L * *').next(at('2026-02-10T00:00:00Z')).toISOString(), '2026-02-28T00:00:00.000Z');
  t.is(cron('0 0 * * 1#2').next(at('2026-03-01T00:00:00Z')).toISOString(), '2026-03-09T00:00:00.000Z');
  t.is(cron('0 0 * * 5L').next(at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-30T00:00:00.000Z');
  // THU holds an H, and is no random value
  t.is(cron('0 0 * JAN THU').next(at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-08T00:00:00.000Z');
  t.is(cron('0 12 13 * ?').next(at('2026-01-01T00:00:00Z')).toISOString(), '2026-01-13T12:00:00.000Z');
});

test("DBOS's nicknames, in any case, with their meaning in the schedule's zone", (t) => {
  const daily = cron('@daily', 'Europe/Paris');
  t.is(daily.expression, '@daily');
  t.is(daily.next(at('2026-06-01T00:00:00Z')).toISOString(), '2026-06-01T22:00:00.000Z');
  t.is(cron(' @MIDNIGHT ', 'Europe/Paris').next(at('2026-06-01T00:00:00Z')).toISOString(), '2026-06-01T22:00:00.000Z');
  t.is(cron('@hourly').next(at('2026-06-01T00:10:00Z')).toISOString(), '2026-06-01T01:00:00.000Z');
  t.is(cron('@weekly').next(at('2026-06-01T00:00:00Z')).toISOString(), '2026-06-07T00:00:00.000Z'); // a Sunday
  t.is(cron('@yearly').next(at('2026-06-01T00:00:00Z')).toISOString(), '2027-01-01T00:00:00.000Z');
});

test('a bad expression is a ConfigError naming the option and showing the expression', (t) => {
  const cases: [string, RegExp][] = [
    ['0 0 1 1 * * *', /5 fields \(minute first\) or 6 \(second first\), not 7/],
    ['', /not 0/],
    ['   ', /not 0/],
    ['5', /not 1/], // cron-parser alone pads it to "every minute of Fridays"
    ['* * * *', /not 4/],
    ['every day at noon', /not 4/],
    ['a b c d *', /not a valid cron expression/],
    ['61 * * * *', /not a valid cron expression \(.*61/],
    ['0 24 * * *', /not a valid cron expression \(.*24/],
    ['0 0 30 2 *', /not a valid cron expression/],
    ['0 0 15W * *', /not a valid cron expression/], // W: DBOS has it, cron-parser does not
    ['* * * * *\u0000', /only digits, names, spaces/],
    ['*\t* * * *', /only digits, names, spaces/],
    ['H * * * *', /uses H/],
    ['0 0 * * H', /uses H/],
    ['@secondly', /one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly/],
    ['@reboot', /one of @yearly/],
    ['0 0 13 * 5', /both day of month and day of week/],
  ];
  for (const [expression, reason] of cases) {
    const error = t.throws(() => cron(expression), { instanceOf: ConfigError }, JSON.stringify(expression));
    t.true(error.message.startsWith(AT), error.message);
    t.true(error.message.includes(JSON.stringify(expression)), error.message);
    t.regex(error.message, reason);
  }
  for (const [value, got] of [[42, 'got 42'], [null, 'got null'], [undefined, 'got undefined'], [{}, 'got an object']] as const) {
    const error = t.throws(() => parseCron(AT, value), { instanceOf: ConfigError });
    t.is(error.message, `${AT} must be a cron expression (a string), ${got}`);
  }
});

test('an unknown time zone is a ConfigError naming the option, the timezone and the zone', (t) => {
  for (const zone of ['Europe/Pariss', 'UTC+1', '', 42, null]) {
    const error = t.throws(() => parseCron(AT, '0 9 * * *', zone), { instanceOf: ConfigError });
    t.is(error.message, `${AT} timezone must be an IANA time zone such as "Europe/Paris", got ${typeof zone === 'string' ? JSON.stringify(zone) : String(zone)}`);
  }
  const error = t.throws(() => parseCron(AT, '0 9 * * *', 'Mars/Olympus_Mons'));
  t.true(error.cause instanceof RangeError);
});

test('invalid Dates are ConfigErrors, not a silent empty range', (t) => {
  const c = cron('* * * * *');
  t.throws(() => c.next(new Date(Number.NaN)), { instanceOf: ConfigError, message: /cron.next\(after\) must be a valid Date/ });
  t.throws(() => c.ticks(at('2026-01-01T00:00:00Z'), new Date(Number.NaN), 10), { instanceOf: ConfigError, message: /cron.ticks\(to\)/ });
});

test('tick IDs: sched-<workflow or schedule ID>-<ISO instant>', (t) => {
  const tick = at('2026-03-29T01:00:00Z');
  t.is(tickId('report', tick), 'sched-report-2026-03-29T01:00:00.000Z');
  t.is(scheduleTickId('nightly-42', tick), 'schedule-nightly-42-2026-03-29T01:00:00.000Z');
});
