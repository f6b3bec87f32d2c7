-- POST /auth/login with codes taken in turn from a file, one per line, for
-- one appid. Each wrk thread walks its own slice and stops once every code
-- of it has been answered, so no code is sent twice and the run ends early
-- when the codes do (requests/s is over the time actually run). With more
-- connections than one per code the last ones may be resent ("note: a
-- thread reused its codes"; refused, counted as non-2xx).
-- Usage: wrk -s codes.lua URL -- CODES_FILE APPID
local codes = {}
local index = 0
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  appid = args[2]
  local all = {}
  for line in io.lines(args[1]) do all[#all + 1] = line end
  local slices = #threads > 0 and #threads or 2
  local n = math.floor(#all / slices)
  local first = id * n
  for i = 1, n do codes[i] = all[first + i] end
  wraps = 0
end

function request()
  index = index + 1
  if index > #codes then index = 1; wraps = wraps + 1 end
  local body = string.format('{"code":"%s","appid":"%s"}', codes[index], appid)
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end

local answered = 0
function response(status, headers, body)
  answered = answered + 1
  if answered >= #codes then wrk.thread:stop() end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wraps") and thread:get("wraps") > 0 then
      io.write("note: a thread reused its codes (", thread:get("wraps"), " wraps)\n")
    end
  end
end
