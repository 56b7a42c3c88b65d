-- post.lua — wrk script for `make bench-auth-eth`: POST the JSON body in the
-- file named by $BODY_FILE to the URL given to wrk, on keep-alive connections.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
