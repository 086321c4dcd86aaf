-- The mix of benchmarks/load.py for wrk (https://github.com/wg/wrk):
--   wrk -t1 -c32 -d30s -s benchmarks/load_mix.lua http://127.0.0.1:8765 -- TOKEN IDS_FILE PHOTO_FILE [SEED [KIND]]
-- benchmarks/load.py starts the server, logs in and runs this for you; it also reads the summary line.
-- Weights (per 100 requests) must match MIX in load.py: browse 45, listing 15, matches 15, create 10,
-- classify 5, districts 10. Requests are drawn at random from a fixed seed per thread; with KIND, only that kind.

local kinds = {}
counts = {}
local token, ids, photo, only
local boundary = "ayniloadboundary7MA4YWxkTrZu0gW"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  token, ids = args[1], {}
  for id in read(args[2]):gmatch("%d+") do ids[#ids + 1] = id end
  photo = read(args[3])
  local weights = { browse = 45, listing = 15, matches = 15, create = 10, classify = 5, districts = 10 }
  for _, k in ipairs({ "browse", "listing", "matches", "create", "classify", "districts" }) do
    for _ = 1, weights[k] do kinds[#kinds + 1] = k end
    counts[k] = 0
  end
  math.randomseed(tonumber(args[4] or "0"))
  only = args[5]
end

local function form(data)
  return "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
    .. "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
end

function request()
  local kind = only or kinds[math.random(#kinds)]
  counts[kind] = counts[kind] + 1
  local h = { ["Authorization"] = "Bearer " .. token }
  if kind == "browse" then
    return wrk.format("GET", "/v1/listings?limit=20", h)
  elseif kind == "listing" then
    return wrk.format("GET", "/v1/listings/" .. ids[math.random(#ids)], h)
  elseif kind == "matches" then
    return wrk.format("GET", "/v1/listings/" .. ids[math.random(#ids)] .. "/matches", h)
  elseif kind == "create" then
    h["Content-Type"] = "application/json"
    return wrk.format("POST", "/v1/listings", h, '{"material": "PET", "estimated_kg": "4.5"}')
  elseif kind == "classify" then
    h["Content-Type"] = "multipart/form-data; boundary=" .. boundary
    return wrk.format("POST", "/v1/classify", h, form(photo))
  end
  return wrk.format("GET", "/v1/districts?q=chic", h)
end

statuses = {}

function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency)
  local merged_counts, merged_status = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do merged_counts[k] = (merged_counts[k] or 0) + v end
    for k, v in pairs(t:get("statuses")) do merged_status[k] = (merged_status[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged_counts) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  local sparts = {}
  for k, v in pairs(merged_status) do sparts[#sparts + 1] = string.format('"%d": %d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'AYNI_WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
      .. '"sent": {%s}, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ", "), table.concat(sparts, ", ")))
end
