package caddymodule

import "github.com/restcomm/restcomm-gateway/internal/redislog"

// Every process with the restcomm handler, the gateway and each command
// of its command line, logs go-redis's own lines through Caddy's logger
// (restcomm.redis), never as plain text in the middle of its JSON log.
func init() {
	redislog.Install()
}
