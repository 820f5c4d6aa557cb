-- wrk script for the limited run: every request carries X-Forwarded-For (the server trusts
-- loopback as its proxy). The requests cycle through `n`: one in `every` comes from one
-- flooding client, each of the others from a distinct client, which stays far below its limit.
-- These addresses are header text only: nothing is ever sent to them.
local reqs = {}
local count = 0
local i = 0

function init(args)
  local every = tonumber(args[1] or "4")
  count = tonumber(args[2] or "4096")
  for k = 1, count do
    local ip
    if k % every == 0 then
      ip = "10.255.255.1"
    else
      ip = "10.1." .. (math.floor(k / 256) % 256) .. "." .. (k % 256)
    end
    reqs[k] = wrk.format("GET", nil, { ["X-Forwarded-For"] = ip })
  end
end

function request()
  i = i + 1
  if i > count then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"non2xx":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
