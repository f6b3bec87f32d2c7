-- POST /auth/login with a fresh code each time (the fake WeChat accepts any).
-- Arguments after `--`: the appids to spread the logins over (one: sent
-- anyway; the server takes the only app either way).
local n = 0
local appids = {}
function init(args)
  for i = 1, #args do appids[i] = args[i] end
end
function request()
  n = n + 1
  local body
  if #appids > 0 then
    body = string.format('{"code":"bench%d%d","appid":"%s"}', math.random(1, 1e9), n, appids[(n % #appids) + 1])
  else
    body = string.format('{"code":"bench%d%d"}', math.random(1, 1e9), n)
  end
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end
