// RudderStack's Node library (@rudderstack/rudder-sdk-node), unmodified and with its default
// settings: gzipped bodies that axios labels application/x-www-form-urlencoded. Usage: node
// rudder_node.mjs URL WRITE_KEY PREFIX. The same calls as segment_node.mjs, then all again with
// the same messageIds. Exits non-zero if the library reports an error.
import Analytics from '@rudderstack/rudder-sdk-node';

const [url, writeKey, p] = process.argv.slice(2);
const errors = [];
const timestamp = new Date('2026-11-20T09:00:00Z');
const userId = `${p}-u1`;

async function send() {
  const analytics = new Analytics(writeKey, { dataPlaneUrl: url, errorHandler: (e) => errors.push(String(e)) });
  analytics.identify({ userId, traits: { email: `${p}-ann@example.com`, name: 'Ann Lee', title: 'CTO' }, timestamp, messageId: `${p}-m1` });
  analytics.track({ userId, event: 'report_created', properties: { rows: 3 }, timestamp, messageId: `${p}-m2` });
  analytics.group({ userId, groupId: `${p}-acct`, traits: { name: `Initech ${p}`, plan: 'pro', employees: 120 }, timestamp, messageId: `${p}-m3` });
  analytics.track({ userId, event: 'login', timestamp, messageId: `${p}-m4` });
  analytics.page({ userId, name: 'Dashboard', timestamp, messageId: `${p}-m5` });
  await analytics.flush();
}

await send();
await send();
if (errors.length) {
  console.error(`@rudderstack/rudder-sdk-node reported: ${errors.join('; ')}`);
  process.exit(1);
}
console.log('sent');
