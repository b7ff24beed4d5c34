// Send identify, page, track and group through the real Segment Node client.
//
// Usage: node send_node.mjs HOST WRITE_KEY USER_ID GROUP_ID
//
// Used by the forwarder's end-to-end test (tests/forwarder/clients.rs) with
// @segment/analytics-node 3.1.0 installed by `npm ci --prefix tests/clients`.
// Exits non-zero if the client reports an error.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, userId, groupId] = process.argv.slice(2)
if (!groupId) {
  console.error('usage: node send_node.mjs HOST WRITE_KEY USER_ID GROUP_ID')
  process.exit(2)
}

const analytics = new Analytics({ writeKey, host, flushAt: 4, maxRetries: 2 })
const errors = []
analytics.on('error', (err) => errors.push(String(err && (err.reason || err.code || err))))

const context = {
  ip: '198.51.100.9',
  userAgent:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  locale: 'en-US',
}
analytics.identify({
  userId,
  traits: { email: `${userId}@example.com`, firstName: 'Ada', lastName: 'Node', plan: 'team' },
  context,
})
analytics.page({
  userId,
  category: 'Docs',
  name: 'Pricing',
  properties: { url: 'https://shop.example.com/pricing', path: '/pricing', title: 'Pricing' },
})
analytics.track({ userId, event: 'Order Completed', properties: { order_id: 'o-2', revenue: 10 } })
analytics.group({ userId, groupId, traits: { name: 'Node Ltd', employees: 3 } })

await analytics.closeAndFlush({ timeout: 20000 })
if (errors.length > 0) {
  console.error('segment client errors: ' + errors.join('; '))
  process.exit(1)
}
console.log('node client: 4 calls sent')
