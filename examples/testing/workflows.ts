// The workflows of a small shop, as an application would write them. checkout.test.ts proves
// them crash-safe with skein/testing.
import { workflow } from 'skein';

export interface Order {
  id: string;
  items: number;
  email: string;
}

export const checkout = workflow('checkout', async (ctx, order: Order) => {
  const reservation = await ctx.step('reserve', () => ({ id: `res-${order.id}`, items: order.items }));
  const charge = await ctx.step('charge', () => ({ amount: order.items * 500 }), { retries: 3 });
  await ctx.setEvent('status', 'paid');
  const receipt = await ctx.startWorkflow(receiptEmail, order.email);
  return { reservation: reservation.id, charged: charge.amount, receipt: await receipt.result() };
});

export const receiptEmail = workflow('receiptEmail', async (ctx, email: string) => {
  return ctx.step('send', () => `receipt sent to ${email}`);
});

/** Three days after a sign-up, one reminder. */
export const reminder = workflow('reminder', async (ctx, email: string) => {
  await ctx.sleep(3 * 24 * 60 * 60 * 1000);
  return ctx.step('remind', () => `reminded ${email}`);
});
