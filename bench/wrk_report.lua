-- wrk prints its figures for people; this adds one JSON line for the benchmarks to read
-- (latencies in microseconds). With BENCH_PATHS naming a file of paths, one per line, each
-- request takes the next path, each thread starting at its own place in the list.
local file = os.getenv("BENCH_PATHS")
if file then
  local paths = {}
  for line in io.lines(file) do
    paths[#paths + 1] = line
  end
  local threads = 0
  function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
  end
  local n = 0
  function request()
    n = n + 1
    local index = (offset * 7919 + n) % #paths + 1
    return wrk.format(nil, paths[index])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
