-- wrk script for the HTTP limit (nginx's fixed small body): plain GETs, and the same summary
-- line as add_tags.lua for bench/run.sh.
function done(summary, latency, requests)
  local rps = summary.requests / (summary.duration / 1e6)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("result: %.0f %.2f %.2f %d\n", rps, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
