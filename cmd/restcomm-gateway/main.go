// Command restcomm-gateway is Caddy with its standard modules plus the
// RestComm gateway handler (http.handlers.restcomm): the same binary
// `xcaddy build --with github.com/restcomm/restcomm-gateway` would give.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/restcomm/restcomm-gateway/caddymodule"
)

func main() {
	caddycmd.Main()
}
