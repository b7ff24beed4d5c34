-- wrk script for the simulator benchmark: one file, four request shapes chosen by environment.
--
--   BENCH_SHAPE   events | site_views | upsert | mix (events and site views alternating)
--   BENCH_TOKEN   API key sent as `Authorization: Token KEY`
--   BENCH_USERS   file with one "custom_id user_key" pair per line (seeded users)
--   BENCH_UPSERT_USERS  distinct custom ids cycled by `upsert` (default 100000)
--
-- Requests are pre-formatted per thread in init() where possible, so the Lua side costs little
-- CPU (the load generator shares the machine's cores with the server under test).
-- done() prints one line `BENCH_JSON {...}` that bench.py parses.

local shape = os.getenv("BENCH_SHAPE") or "events"
local token = os.getenv("BENCH_TOKEN") or "bench-key"
local users_file = os.getenv("BENCH_USERS")
local upsert_users = tonumber(os.getenv("BENCH_UPSERT_USERS") or "100000")

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local headers = {
   ["Authorization"] = "Token " .. token,
   ["Content-Type"] = "application/json",
   -- What User.com's clients send; the simulator's strict mode refuses a request without it.
   ["Accept"] = "*/*; version=2",
}

-- Event bodies: `quantity` is a defined integer event attribute, sent as a padded numeric string
-- (converted); the other keys are undefined (stringified, auto-created as string attributes).
local event_names = { "Order Completed", "Product Viewed", "Cart Updated", "Signed Up" }
local function event_body(i)
   return string.format(
      '{"name":"%s","timestamp":%d,"data":{"quantity":" %d ","revenue":%d.5,"currency":"PLN","coupon":true,"sku":"SKU-%d"}}',
      event_names[(i % #event_names) + 1], 1716800000 + i, (i % 9) + 1, i % 500, i % 97)
end

local function site_view_body(key, i)
   return string.format(
      '{"client_user":"%s","page_domain":"https://shop.example.com/pricing?utm_source=news","page_path":"/pricing/%d","title":"Pricing","timestamp":"2024-05-01T10:00:%02d+02:00"}',
      key, i % 50, i % 60)
end

local pool = {}
local pool_n = 0
local counter = 0

local function load_users()
   local list = {}
   if users_file == nil then return list end
   local f = io.open(users_file, "r")
   if f == nil then return list end
   for line in f:lines() do
      local cid, key = line:match("^(%S+)%s+(%S+)$")
      if cid then table.insert(list, { cid = cid, key = key }) end
   end
   f:close()
   return list
end

function init(args)
   tid = tid or 0
   counter = tid
   if shape == "upsert" then return end
   local users = load_users()
   if #users == 0 then
      users = { { cid = "bench-u-0", key = "benchkey0000" } }
   end
   -- 2,000 distinct pre-formatted requests per thread, cycled.
   for i = 0, 1999 do
      local n = i * 2 + tid
      local u = users[(n % #users) + 1]
      local kind = shape
      if shape == "mix" then
         if i % 2 == 0 then kind = "events" else kind = "site_views" end
      end
      local req
      if kind == "events" then
         req = wrk.format("POST", "/api/public/users-by-id/" .. u.cid .. "/events/", headers, event_body(n))
      else
         req = wrk.format("POST", "/api/public/site-views/", headers, site_view_body(u.key, n))
      end
      pool[i + 1] = req
   end
   pool_n = 2000
end

local upsert_threads = tonumber(os.getenv("BENCH_THREADS") or "2")
function request()
   if shape == "upsert" then
      -- Distinct users, interleaved between threads: thread t sends ids t, t+T, t+2T, ...
      local i = counter % upsert_users
      counter = counter + upsert_threads
      local body = string.format(
         '{"custom_id":"bench-up-%d","email":"user%d@example.com","first_name":"Ada","plan":"pro","seats":"%d"}',
         i, i, i % 50)
      return wrk.format("POST", "/api/public/users/update_or_create/", headers, body)
   end
   counter = counter + 1
   return pool[(counter % pool_n) + 1]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max))
end
