-- wrk script: GET add_tags postbacks spread over the calls listed in $CALLS_FILE
-- (one "uuid key" per line), with a tag value that changes per request.
local calls = {}
local n = 0

function init(args)
  local path = os.getenv("CALLS_FILE")
  for line in io.lines(path) do
    local uuid, key = line:match("^(%S+) (%S+)$")
    if uuid then
      n = n + 1
      calls[n] = { uuid = uuid, key = key }
    end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local counter = 0
function request()
  counter = counter + 1
  local c = calls[math.random(n)]
  return wrk.format("GET", "/calls/" .. c.uuid .. "/add_tags?key=" .. c.key ..
                    "&disposition=sold&seq=" .. counter)
end

function done(summary, latency, requests)
  local rps = summary.requests / (summary.duration / 1e6)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  -- For bench/run.sh: requests/s, p50 ms, p99 ms, errors.
  io.write(string.format("result: %.0f %.2f %.2f %d\n", rps, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
  io.write(string.format("add_tags: %.0f requests/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
    rps, latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
