-- POST /auth/login with a fresh code each time (the fake WeChat accepts any).
local n = 0
function request()
  n = n + 1
  local body = string.format('{"code":"bench%d%d"}', math.random(1, 1e9), n)
  return wrk.format("POST", "/auth/login", { ["Content-Type"] = "application/json" }, body)
end
