-- wrk_json.lua: one fixed request per wrk connection, and a machine-readable summary.
-- Environment: BENCH_METHOD (default POST), BENCH_BODY (the request body, for POST).
-- Prints "BENCH rps=<requests/s> p50_ms=<..> p99_ms=<..> errors=<n> non2xx=<n>" at the end.
wrk.method = os.getenv("BENCH_METHOD") or "POST"
local body = os.getenv("BENCH_BODY")
if wrk.method == "POST" and body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json; charset=UTF-8"
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("BENCH rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
