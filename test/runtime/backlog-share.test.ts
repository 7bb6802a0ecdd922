// The share window of runtime/backlog-share.ts on its own: when it opens, what each thread may
// take while it is open, and that work arriving meanwhile is not held to the opening's share.
import test from 'ava';
import { BacklogShare } from '../../runtime/backlog-share.ts';

test('a window opens only for a backlog between the free slots and all slots, on 2+ threads, once per filling', (t) => {
  const share = new BacklogShare();
  t.false(share.begin(36, 1, 1, 32), 'one thread: nothing to share between');
  t.false(share.begin(36, 0, 2, 32), 'no free slot: its clock would run before anyone could take');
  t.false(share.begin(5, 5, 2, 32), 'all of it fits now');
  t.false(share.begin(64, 1, 2, 32), 'a share of 32 or more caps nothing');
  t.true(share.begin(36, 1, 2, 32));
  share.end();
  t.false(share.begin(36, 1, 2, 32), 'not again until every slot was held');
  share.full();
  t.true(share.begin(36, 1, 2, 32));
});

test('in a window each thread takes half of what was ready, and what arrives meanwhile raises every share', (t) => {
  const share = new BacklogShare();
  t.true(share.begin(36, 1, 2, 32));
  let ready = 36;
  while (share.allows(1, ready)) {
    share.took(1);
    ready--;
  }
  t.is(ready, 18, 'the thread that freed first took its half');
  t.true(share.allows(2, ready), 'the other thread may take its half');
  ready += 40; // new starts arrive while the window is open
  let more = 0;
  while (share.allows(1, ready)) {
    share.took(1);
    ready--;
    more++;
  }
  t.is(more, 20, 'half of what is now in play (18 taken + 58 ready = 76, 38 each) less the 18 it had');
  share.end();
  t.true(share.allows(1, ready), 'closed: no cap');
});
