-- wrk script for the scimd benchmark; bench/run.py runs it once per scenario.
--
-- One script serves every scenario (BENCH_SCENARIO picks it), so they all share the user list,
-- the thread numbering and the report. Settings come from the environment rather than wrk's
-- `-- args` because the top-level code below needs them: wrk decides from it whether a run has a
-- static request (the /healthz ceiling must not pay for a Lua call per request).
--
-- Environment (set by run.py):
--   BENCH_SCENARIO  healthz | get_user | filter_user | list_users | create_user |
--                   deactivate_user | group_member | replace_user | refresh_token
--   BENCH_USER_FILE file with one "id userName" line per loaded user; the first
--                   BENCH_MEMBERS of them are members of the big group
--   BENCH_MEMBERS   size of the big group
--   BENCH_GROUP_ID  id of the big group
--   BENCH_THREADS   wrk's -t, so each thread can own a slice of the users
--   BENCH_TAG       random per run; makes created userNames unique across runs
--   BENCH_PASS      0, 1, …: which half of its slice a write walk starts in, so a second
--                   pass over the same scenario writes users the first pass did not touch
--   BENCH_QUOTA     create_user only: stop each thread after this many requests (0 = none)
--   BENCH_DONE_DIR  create_user only: where a thread that reached its quota leaves a file
--   BENCH_REFRESH_TOKENS refresh_token only: one refresh token per thread, separated by spaces,
--                   each from its own grant (run wrk with as many threads as connections)
--   BENCH_CLIENT_BASIC   refresh_token only: the client's base64 "id:secret" (client_secret_basic)
--   BENCH_ERROR_LOG if set, every response with a status of 400 or more is appended there
--                   (status and body), at some cost in wrk's CPU

local scenario = os.getenv("BENCH_SCENARIO") or "healthz"
local users_file = os.getenv("BENCH_USER_FILE")
local members = tonumber(os.getenv("BENCH_MEMBERS") or "0")
local group_id = os.getenv("BENCH_GROUP_ID")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local tag = os.getenv("BENCH_TAG") or "x"
local pass = tonumber(os.getenv("BENCH_PASS") or "0")
local quota = tonumber(os.getenv("BENCH_QUOTA") or "0")
local done_dir = os.getenv("BENCH_DONE_DIR")
local error_log = os.getenv("BENCH_ERROR_LOG")
local client_basic = os.getenv("BENCH_CLIENT_BASIC")
local refresh_tokens = {}
for token in (os.getenv("BENCH_REFRESH_TOKENS") or ""):gmatch("%S+") do
   refresh_tokens[#refresh_tokens + 1] = token
end

local PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
local USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
-- group_member: how many adds behind its add a member is removed (see there).
local REMOVE_LAG = 100

if scenario == "healthz" then
   -- No request() below: wrk sends this one request over and over without calling Lua.
   wrk.path = "/healthz"
end

-- Runs in the main Lua state once per thread, before the thread's own state calls init().
local next_tid = 0
local all_threads = {}
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   all_threads[#all_threads + 1] = thread
end

-- Per-thread state: each wrk thread runs its own copy of this script.
local ids, names = {}, {}
local sent = 0

local function load_users()
   if not users_file then
      return
   end
   for line in io.lines(users_file) do
      local id, name = line:match("^(%S+) (%S+)$")
      if id then
         ids[#ids + 1] = id
         names[#names + 1] = name
      end
   end
end

function init(args)
   -- Threads start in the same second, so the thread number keeps their sequences apart.
   math.randomseed(os.time() * 1000 + tid)
   if scenario == "refresh_token" then
      -- Globals, so that done() can read each chain's last token and count (thread:get).
      chain_token = refresh_tokens[tid + 1]
      chain_refreshed = 0
      if not chain_token or not client_basic then
         error("refresh_token needs BENCH_CLIENT_BASIC and a token per thread in "
                  .. "BENCH_REFRESH_TOKENS (thread " .. tid .. ")")
      end
   elseif scenario ~= "healthz" and scenario ~= "create_user" then
      load_users()
   end
end

local function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c)
      return string.format("%%%02X", c:byte())
   end))
end

-- The i-th user (0-based) of this thread's slice of users first..last, starting in the half of
-- the slice chosen by BENCH_PASS. Write scenarios walk it so that every request really changes
-- a user: a PATCH that changes nothing is answered without writing.
local function walk(first, last, i)
   local len = math.floor((last - first + 1) / threads)
   local start = first + tid * len
   return start + (math.floor(pass * len / 2) + i) % len
end

local function user_body(user_name, display, external_id)
   return string.format(
      '{"schemas":["%s"],"userName":"%s","name":{"givenName":"Bench","familyName":"%s"},'
         .. '"emails":[{"primary":true,"value":"%s","type":"work"}],"displayName":"%s",'
         .. '"externalId":"%s","active":true}',
      USER_SCHEMA, user_name, display, user_name, display, external_id)
end

local builders = {
   get_user = function()
      return wrk.format("GET", "/scim/v2/Users/" .. ids[math.random(#ids)])
   end,

   -- Okta's lookup before a create, with its paging parameters.
   filter_user = function()
      local filter = 'userName eq "' .. names[math.random(#names)] .. '"'
      local path = "/scim/v2/Users?filter=" .. urlencode(filter) .. "&startIndex=1&count=100"
      return wrk.format("GET", path)
   end,

   list_users = function()
      local start = math.random(math.max(1, #ids - 99))
      return wrk.format("GET", "/scim/v2/Users?startIndex=" .. start .. "&count=100")
   end,

   create_user = function()
      if quota > 0 and sent >= quota then
         -- The load has its users: stop this thread. wrk itself runs on until -d or SIGINT,
         -- so tell run.py, which interrupts it once every thread is done. wrk still sends what
         -- we return: something that creates nothing (its response is never read).
         if sent == quota and done_dir then
            io.open(done_dir .. "/thread-" .. tid, "w"):close()
         end
         wrk.thread:stop()
         return wrk.format("GET", "/healthz")
      end
      local name = string.format("bench-%s-%d-%d@example.com", tag, tid, sent)
      local external = string.format("%s-%d-%d", tag, tid, sent)
      return wrk.format("POST", "/scim/v2/Users", nil, user_body(name, "User " .. sent, external))
   end,

   deactivate_user = function()
      local id = ids[walk(1, #ids, sent)]
      local body = '{"schemas":["' .. PATCH_SCHEMA .. '"],'
         .. '"Operations":[{"op":"replace","path":"active","value":false}]}'
      return wrk.format("PATCH", "/scim/v2/Users/" .. id, nil, body)
   end,

   -- Alternately adds a non-member to the big group and removes one added REMOVE_LAG adds
   -- earlier (as Okta does, by a value filter), so the group keeps its size. The lag is there
   -- because a thread's connections run concurrently: removing the user just added could
   -- overtake its add. (The first removals hit non-members and change nothing.) The response
   -- leaves the members out: with them, every request would render the whole group.
   group_member = function()
      local n = math.floor(sent / 2)
      local op
      if sent % 2 == 0 then
         local id = ids[walk(members + 1, #ids, n)]
         op = '{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}'
      else
         local id = ids[walk(members + 1, #ids, n - REMOVE_LAG)]
         op = '{"op":"remove","path":"members[value eq \\"' .. id .. '\\"]"}'
      end
      local body = '{"schemas":["' .. PATCH_SCHEMA .. '"],"Operations":[' .. op .. ']}'
      local path = "/scim/v2/Groups/" .. group_id .. "?excludedAttributes=members"
      return wrk.format("PATCH", path, nil, body)
   end,

   -- One refresh chain per thread: each request presents the refresh token the previous
   -- response returned (see response() below). Refresh tokens rotate and a token used again
   -- after its successor can revoke the grant, so a chain must be strictly sequential: run.py
   -- gives each thread one connection, and wrk sends a connection's next request only after
   -- its response has been read. Every chain is its own grant, so chains never share a token.
   refresh_token = function()
      local body = "grant_type=refresh_token&refresh_token=" .. urlencode(chain_token)
      -- These headers replace wrk's -H ones (no SCIM Content-Type, no bearer token).
      local headers = {
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["Authorization"] = "Basic " .. client_basic,
         ["Accept"] = "application/json",
      }
      return wrk.format("POST", "/oauth/token", headers, body)
   end,

   -- A full replace that changes the display name, so each PUT writes.
   replace_user = function()
      local i = math.random(#ids)
      local display = string.format("Replaced %s %d %d", tag, tid, sent)
      local body = user_body(names[i], display, string.format("put-%s-%d-%d", tag, tid, sent))
      return wrk.format("PUT", "/scim/v2/Users/" .. ids[i], nil, body)
   end,
}

if scenario ~= "healthz" then
   local build = builders[scenario]
   if not build then
      error("unknown BENCH_SCENARIO " .. scenario)
   end
   request = function()
      local req = build()
      sent = sent + 1
      return req
   end
end

local function log_error(status, body)
   if error_log and status >= 400 then
      local text = (body or ""):sub(1, 300):gsub("\n", " ")
      local f = io.open(error_log, "a")
      f:write(status, " ", text, "\n")
      f:close()
   end
end

-- Defined only when needed: with a response() function wrk keeps every header and body.
if scenario == "refresh_token" then
   -- The chain goes on from the refresh token this answer carries. (An answer without one
   -- leaves the token as it was: presenting it again is a retry, not a reuse, while its
   -- successor is unused; done() reports how many answers carried one.)
   response = function(status, headers, body)
      if status == 200 then
         local token = (body or ""):match('"refresh_token"%s*:%s*"([^"]+)"')
         if token then
            chain_token = token
            chain_refreshed = chain_refreshed + 1
         end
      end
      log_error(status, body)
   end
elseif error_log then
   response = function(status, headers, body)
      log_error(status, body)
   end
end

-- One machine-readable line for run.py. wrk counts a response as an error when its status is
-- 400 or more; none of these endpoints answers 1xx or 3xx, so that is the non-2xx count.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,'
         .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,'
         .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
   if scenario == "refresh_token" then
      -- Each chain's last refresh token and how many answers moved it on, for run.py's checks.
      local chains = {}
      for i, thread in ipairs(all_threads) do
         chains[i] = string.format('{"token":"%s","refreshed":%d}',
            tostring(thread:get("chain_token")), tonumber(thread:get("chain_refreshed")) or 0)
      end
      io.write("BENCH_CHAINS [" .. table.concat(chains, ",") .. "]\n")
   end
end
