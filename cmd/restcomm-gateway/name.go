package main

import "github.com/caddyserver/caddy/v2"

// Caddy's command line takes the name of its root command, the first word
// of every usage line and of its error messages, from CustomBinaryName
// ("caddy" when unset); caddycmd.Main reads it when it builds the
// commands, after every init.
func init() {
	caddy.CustomBinaryName = "restcomm-gateway"
}
