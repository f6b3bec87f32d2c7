-- GET PATH with a bearer token taken in turn from a file, one per line.
-- Each wrk thread walks its own slice of the file, so in "cold" runs (more
-- tokens than requests) no token is sent twice.
-- Usage: wrk -s tokens.lua URL -- TOKENS_FILE [PATH (default /auth/me)]
local tokens = {}
local index = 0
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[2] or "/auth/me"
  local all = {}
  for line in io.lines(args[1]) do all[#all + 1] = line end
  local slices = #threads > 0 and #threads or 2
  local n = math.floor(#all / slices)
  local first = id * n
  for i = 1, n do tokens[i] = all[first + i] end
  wraps = 0
end

function request()
  index = index + 1
  if index > #tokens then index = 1; wraps = wraps + 1 end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[index] })
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wraps") and thread:get("wraps") > 0 then
      io.write("note: a thread reused its tokens (", thread:get("wraps"), " wraps)\n")
    end
  end
end
