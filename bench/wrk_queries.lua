-- wrk script: cycle through the benchmark's query mix (one URL path per line in $WRK_PATHS).
local paths = {}
local counter = 0

function init(args)
  local f = assert(io.open(os.getenv("WRK_PATHS"), "r"))
  for line in f:lines() do paths[#paths + 1] = line end
  f:close()
  counter = 0
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter], { ["Accept"] = "application/json" })
end
