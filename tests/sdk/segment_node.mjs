// Segment's Node library (@segment/analytics-node), unmodified and with its default settings,
// sending to Kizuna. Usage: node segment_node.mjs URL WRITE_KEY PREFIX. Sends identify, track
// before grouping, group with traits, track after grouping and page, flushes, then sends the
// same messages again (same messageIds). Exits non-zero if the library reports an error.
// crates/cli/tests/it/sdk.rs checks what was stored.
import { Analytics } from '@segment/analytics-node';

const [url, writeKey, p] = process.argv.slice(2);
const errors = [];
const timestamp = new Date('2026-11-20T09:00:00Z');
const userId = `${p}-u1`;

async function send() {
  const analytics = new Analytics({ writeKey, host: url });
  analytics.on('error', (e) => errors.push(`${e.code}: ${e.reason ?? e.message ?? e}`));
  analytics.identify({ userId, traits: { email: `${p}-ann@example.com`, name: 'Ann Lee', title: 'CTO' }, timestamp, messageId: `${p}-m1` });
  analytics.track({ userId, event: 'report_created', properties: { rows: 3 }, timestamp, messageId: `${p}-m2` });
  analytics.group({ userId, groupId: `${p}-acct`, traits: { name: `Initech ${p}`, plan: 'pro', employees: 120 }, timestamp, messageId: `${p}-m3` });
  analytics.track({ userId, event: 'login', timestamp, messageId: `${p}-m4` });
  analytics.page({ userId, name: 'Dashboard', timestamp, messageId: `${p}-m5` });
  await analytics.closeAndFlush();
}

await send();
await send();
if (errors.length) {
  console.error(`@segment/analytics-node reported: ${errors.join('; ')}`);
  process.exit(1);
}
console.log('sent');
