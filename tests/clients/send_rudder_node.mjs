// Send identify, page, track and group through RudderStack's Node SDK.
//
// Usage: node send_rudder_node.mjs HOST WRITE_KEY USER_ID GROUP_ID
//
// Used by the forwarder's end-to-end test (tests/forwarder/clients.rs) with
// @rudderstack/rudder-sdk-node 3.0.13 installed by `npm ci --prefix tests/clients`.
// It posts to `dataPlaneUrl` + /v1/batch with Basic auth, gzipped. Exits non-zero if the
// SDK reports an error.
import Analytics from '@rudderstack/rudder-sdk-node'

const [host, writeKey, userId, groupId] = process.argv.slice(2)
if (!groupId) {
  console.error('usage: node send_rudder_node.mjs HOST WRITE_KEY USER_ID GROUP_ID')
  process.exit(2)
}

const errors = []
const analytics = new Analytics(writeKey, {
  dataPlaneUrl: host,
  flushAt: 4,
  flushInterval: 200,
  retryCount: 2,
  logLevel: 'error',
  errorHandler: (err) => errors.push(String(err && (err.message || err))),
})

const context = {
  ip: '198.51.100.23',
  userAgent:
    'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  locale: 'de-DE',
}
analytics.identify({
  userId,
  traits: { email: `${userId}@example.com`, firstName: 'Ada', lastName: 'Rudder', plan: 'team' },
  context,
})
analytics.page({
  userId,
  category: 'Docs',
  name: 'Pricing',
  properties: { url: 'https://shop.example.com/pricing', path: '/pricing', title: 'Pricing' },
})
analytics.track({ userId, event: 'Order Completed', properties: { order_id: 'o-3', revenue: 7 } })
analytics.group({ userId, groupId, traits: { name: 'Rudder Node Ltd', employees: 5 } })

await new Promise((resolve) => {
  analytics.flush((err) => {
    if (err) errors.push(String(err.message || err))
    resolve()
  })
})
if (errors.length > 0) {
  console.error('rudderstack client errors: ' + errors.join('; '))
  process.exit(1)
}
console.log('rudderstack node client: 4 calls sent')
process.exit(0)
